"""Report lifecycle through the platform interface: expiry at the later of 24 h after opening and 1 h after
the last change (with explicit clock values), the expiry sweep, and the hand-off of finished reports to the
pipeline with their location clues."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from clearinghouse.access.audit import history
from clearinghouse.db.engine import Store
from clearinghouse.geo.agencies import seed_directory
from clearinghouse.tipline import pipeline
from clearinghouse.tipline.models import Release, Report, ReportFile, ReportStatus
from clearinghouse.tipline.xmlsafe import ResponseCode
from clearinghouse.web.app import sweep_expired
from tests.tipline.factories import address, make_faker, minimal_report
from tests.tipline.ispws_client import IspwsClient
from tests.web.live import LiveServer

T0 = dt.datetime(2024, 6, 3, 9, 0, tzinfo=dt.UTC)


def at(live: LiveServer, moment: dt.datetime) -> None:
    live.context.clock = lambda: moment


def opened(client: IspwsClient, report: dict[str, Any] | None = None) -> int:
    answer = client.submit(report or minimal_report(make_faker()))
    assert answer.report_id is not None
    return answer.report_id


def status_of(store: Store, report_id: int) -> ReportStatus:
    with store.session() as session:
        report = session.get(Report, report_id)
        assert report is not None
        return report.status


def test_an_untouched_report_expires_24_hours_after_opening(client: IspwsClient, live: LiveServer) -> None:
    at(live, T0)
    report_id = opened(client)
    at(live, T0 + dt.timedelta(hours=23, minutes=59))
    assert client.upload(report_id, b"still in time", "f.bin").code == 0
    # The upload at 23:59 extends the life to 00:59 after the first day.
    at(live, T0 + dt.timedelta(hours=24, minutes=58))
    assert client.upload(report_id, b"still in time too", "f.bin").code == 0
    at(live, T0 + dt.timedelta(hours=25, minutes=58, seconds=1))
    assert client.finish(report_id).code == ResponseCode.REPORT_DOES_NOT_EXIST


def test_the_24_hour_rule_wins_over_the_idle_hour(client: IspwsClient, live: LiveServer) -> None:
    at(live, T0)
    report_id = opened(client)
    at(live, T0 + dt.timedelta(hours=3))
    assert client.upload(report_id, b"early change", "f.bin").code == 0
    # Idle for 20 hours, yet still within 24 hours of opening.
    at(live, T0 + dt.timedelta(hours=23, minutes=59, seconds=59))
    assert client.finish(report_id).code == 0


def test_an_idle_report_past_both_limits_cannot_be_finished(client: IspwsClient, live: LiveServer) -> None:
    at(live, T0)
    report_id = opened(client)
    at(live, T0 + dt.timedelta(hours=24, seconds=1))
    assert client.finish(report_id).code == ResponseCode.REPORT_DOES_NOT_EXIST
    assert client.retract(report_id).code == ResponseCode.REPORT_DOES_NOT_EXIST


def test_the_sweep_expires_stale_reports_and_drops_their_files(
    client: IspwsClient, live: LiveServer, store: Store
) -> None:
    at(live, T0)
    stale, fresh = opened(client), opened(client)
    assert client.upload(stale, b"file of a stale report", "f.bin").code == 0
    at(live, T0 + dt.timedelta(hours=23, minutes=30))
    assert client.upload(fresh, b"a late change", "f.bin").code == 0
    sweep_time = T0 + dt.timedelta(hours=24, minutes=1)
    at(live, sweep_time)
    assert sweep_expired(live.context) == 1
    assert (status_of(store, stale), status_of(store, fresh)) == (ReportStatus.EXPIRED, ReportStatus.OPEN)
    with store.session() as session:
        files = session.scalars(sa.select(ReportFile.report_id)).all()
        assert files == [fresh]
        events = history(session=session, subject_type="report", subject_id=stale)
    assert [(e.action, e.at) for e in events][-1] == ("report.expired", sweep_time)
    assert client.finish(stale).code == ResponseCode.REPORT_DOES_NOT_EXIST
    assert client.finish(fresh).code == 0


def test_every_transition_is_timestamped_and_audited(client: IspwsClient, live: LiveServer, store: Store) -> None:
    moments = [T0 + dt.timedelta(minutes=minutes) for minutes in (0, 5, 10)]
    at(live, moments[0])
    report_id = opened(client)
    at(live, moments[1])
    assert client.upload(report_id, b"bytes", "f.bin").code == 0
    at(live, moments[2])
    assert client.retract(report_id).code == 0
    with store.session() as session:
        report = session.get(Report, report_id)
        assert report is not None
        assert (report.opened_at, report.retracted_at, report.last_changed_at) == (moments[0], moments[2], moments[2])
        events = history(session=session, subject_type="report", subject_id=report_id)
    assert [(e.action, e.at) for e in events] == [
        ("report.opened", moments[0]),
        ("report.file_added", moments[1]),
        ("report.retracted", moments[2]),
    ]


def test_a_finished_report_is_queued_and_the_pipeline_locates_it(client: IspwsClient, store: Store) -> None:
    fake = make_faker()
    home = {**address(fake), "state": "NC", "zipCode": "27601"}
    report = {**minimal_report(fake), "victim": [{"victimPerson": {"firstName": "Test", "address": [home]}}]}
    report_id = opened(client, report)
    assert client.finish(report_id).code == 0
    with store.unit_of_work() as session:
        seed_directory(session)
        queued = session.scalars(
            sa.select(Report.id).where(Report.status == ReportStatus.FINISHED, Report.processed_at.is_(None))
        ).all()
        assert queued == [report_id]
        outcome = pipeline.process_batch(session=session)
    assert outcome.by_jurisdiction == {"NC": 1}
    with store.session() as session:
        located = session.get(Report, report_id)
        assert located is not None
        assert (located.state_code, located.processed_at is not None) == ("NC", True)
        releases = session.scalars(sa.select(Release.jurisdiction_code).where(Release.report_id == report_id)).all()
    assert releases
    assert set(releases) == {"NC"}
