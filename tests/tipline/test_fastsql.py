"""The SQLite fast path stores exactly what SQLAlchemy would: the same text for timestamps, enums and JSON."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from clearinghouse.db.base import UTCDateTime
from clearinghouse.db.engine import Store
from clearinghouse.tipline import fastsql
from clearinghouse.tipline.models import Classification, IncidentType, Report, ReportSource, ReportStatus

PROCESSOR = UTCDateTime().dialect_impl(sqlite.dialect()).bind_processor(sqlite.dialect())
moments = st.datetimes(
    min_value=dt.datetime(1990, 1, 1),
    max_value=dt.datetime(2100, 1, 1),
    timezones=st.sampled_from(
        [dt.UTC, dt.timezone(dt.timedelta(hours=-5)), dt.timezone(dt.timedelta(hours=5, minutes=30))]
    ),
)


@given(moments)
def test_timestamps_are_formatted_as_sqlalchemy_formats_them(moment: dt.datetime) -> None:
    assert PROCESSOR is not None
    assert fastsql._sqlite_timestamp(moment) == PROCESSOR(moment)


def test_a_naive_timestamp_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        fastsql._sqlite_timestamp(dt.datetime(2023, 1, 1))


def test_rows_written_fast_read_back_like_rows_written_by_core(any_store: Store) -> None:
    table = Report.__table__
    assert isinstance(table, sa.Table)
    at = dt.datetime(2023, 5, 1, 12, 30, 15, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    row = {
        "source": ReportSource.PLATFORM,
        "incident_type": IncidentType.CHILD_SEX_TRAFFICKING,
        "status": ReportStatus.FINISHED,
        "opened_at": at,
        "last_changed_at": at,
        "received_at": at,
        "annotations": ["spam"],
        "body": fastsql.EncodedJSON(json.dumps({"a": [1, "é"]})),
        "file_count": 0,
        "classification": Classification.INFORMATIONAL,
    }
    with any_store.unit_of_work() as session:
        ids = fastsql.insert_with_ids(session, table, [row, {**row, "file_count": 2}])
        fastsql.update(session, table, [{"priority": 3, "id": ids[1]}])
    with any_store.session() as session:
        reports = [session.get(Report, report_id) for report_id in ids]
    assert [r.file_count for r in reports if r] == [0, 2]
    for report in reports:
        assert report is not None
        assert report.received_at == at
        assert (report.incident_type, report.classification) == (
            IncidentType.CHILD_SEX_TRAFFICKING,
            Classification.INFORMATIONAL,
        )
        assert (report.annotations, report.body) == (["spam"], {"a": [1, "é"]})
    assert [r.priority for r in reports if r] == [None, 3]
    with any_store.session() as session:  # and the database compares the stored timestamps as it would Core's
        count = session.scalar(sa.select(sa.func.count()).where(Report.received_at == at))
    assert count == 2


def test_the_collector_is_paused_for_a_block_and_restored_after_it() -> None:
    import gc

    assert gc.isenabled()
    with fastsql.gc_paused():
        assert not gc.isenabled()
        with fastsql.gc_paused():  # nested pauses: still off until the outer one ends
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), fastsql.gc_paused():
        raise RuntimeError("a failed chunk")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    import gc

    gc.disable()
    try:
        with fastsql.gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
