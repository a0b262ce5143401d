"""Bulk lines: an incident after the line's `received_at` is refused by line, naming the field."""

from __future__ import annotations

import datetime as dt

from clearinghouse.db.engine import Store
from clearinghouse.tipline.wire_schemas import NOT_A_TEXT_TIME
from tests.tipline.bulk_helpers import T0, doc, line, ready, send


def test_an_incident_after_the_report_is_refused_by_line(store: Store) -> None:
    platform = ready(store)
    late = doc(incident_at=(T0 + dt.timedelta(minutes=6)).isoformat())
    close = doc(incident_at=(T0 + dt.timedelta(minutes=4)).isoformat())
    summary = send(store, platform, [line("late", late), line("close", close)])
    assert [o.platform_report_id for o in summary.stored] == ["close"]
    [problem] = summary.rejected
    assert (problem.line, problem.platform_report_id) == (1, "late")
    assert [(e.field, e.message) for e in problem.errors] == [
        (
            "report.incident_at",
            "is after the report was received (2023-05-01T12:00:00+00:00): give the time the incident happened",
        )
    ]


def test_a_time_given_as_a_number_is_refused_by_line(store: Store) -> None:
    platform = ready(store)
    numbered = line("numbered", doc()).replace(f'"{T0.isoformat()}"'.encode(), str(T0.timestamp()).encode())
    summary = send(store, platform, [numbered, line("written", doc())])
    assert [o.platform_report_id for o in summary.stored] == ["written"]
    [problem] = summary.rejected
    assert [(e.field, e.message) for e in problem.errors] == [("received_at", NOT_A_TEXT_TIME)]
