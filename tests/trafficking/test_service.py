"""Trafficking reports and recovery-service engagements: recording, idempotency, lifecycle and validation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pydantic
import pytest
from faker import Faker

from clearinghouse.access.models import AuditEvent
from clearinghouse.db.engine import Store
from clearinghouse.errors import Conflict, InputError, NotFound
from clearinghouse.geo.models import Agency, AgencyKind
from clearinghouse.missing import service as missing_service
from clearinghouse.missing.schemas import MissingCaseCreate
from clearinghouse.trafficking import service
from clearinghouse.trafficking.models import (
    Engagement,
    EngagementService,
    EngagementStatus,
    TraffickingReport,
    TraffickingSource,
)
from clearinghouse.trafficking.schemas import (
    EngagementCreate,
    EngagementRead,
    TraffickingReportCreate,
    TraffickingReportRead,
)

NOW = dt.datetime.now(dt.UTC)
AgencyId = Callable[[str, AgencyKind], int]


def _report(store: Store, **changes: Any) -> TraffickingReport:
    fields: dict[str, Any] = {
        "reference": "TL-000001",
        "source": "tipline",
        "state_code": "Ohio",
        "received_at": NOW - dt.timedelta(days=10),
    }
    fields.update(changes)
    with store.unit_of_work() as session:
        return service.record_report(session=session, data=TraffickingReportCreate(**fields))


def _engage(store: Store, report_id: int, agency: int, **changes: Any) -> Engagement:
    fields: dict[str, Any] = {
        "trafficking_report_id": report_id,
        "agency_id": agency,
        "service": EngagementService.RECOVERY_PLANNING,
        "started_at": NOW - dt.timedelta(days=5),
    }
    fields.update(changes)
    with store.unit_of_work() as session:
        return service.start_engagement(session=session, data=EngagementCreate(**fields), actor="caseworker")


def test_record_report_and_read_it_back(seeded: Store) -> None:
    report = _report(seeded)
    assert report.state_code == "OH"
    with seeded.unit_of_work() as session:
        stored = service.get_report(session=session, report_id=report.id)
        assert service.get_report_by_reference(session=session, reference=" TL-000001 ").id == report.id
        read = TraffickingReportRead.model_validate(stored)
        assert read.source is TraffickingSource.TIPLINE
        assert read.received_at.tzinfo is not None
        with pytest.raises(NotFound):
            service.get_report(session=session, report_id=999)


def test_record_report_is_idempotent_on_reference(seeded: Store, row_count: Any) -> None:
    first = _report(seeded)
    audits = row_count(AuditEvent)
    again = _report(seeded, state_code="oh")
    assert again.id == first.id
    assert row_count(TraffickingReport) == 1
    assert row_count(AuditEvent) == audits
    with pytest.raises(Conflict, match="source"):
        _report(seeded, source="hotline")
    assert row_count(TraffickingReport) == 1


def test_state_comes_from_the_missing_case(seeded: Store) -> None:
    fake = Faker("en_US")
    fake.seed_instance(7)
    missing_since = NOW - dt.timedelta(days=20)
    intake = MissingCaseCreate(
        state_code="NV",
        category="social_services",
        case_type="endangered_runaway",
        child_given_name=fake.first_name(),
        child_family_name=fake.last_name(),
        child_birth_date=(missing_since - dt.timedelta(days=15 * 366)).date(),
        missing_since=missing_since,
        reported_by="social_services",
    )
    with seeded.unit_of_work() as session:
        case = missing_service.open_case(session=session, data=intake, actor="intake").case
    report = _report(seeded, reference="MC-link", source="missing_case", state_code=None, missing_case_id=case.id)
    assert report.state_code == "NV"
    assert report.missing_case_id == case.id


@pytest.mark.parametrize(
    ("changes", "field", "given"),
    [
        ({"state_code": "Gondor"}, "state_code", "'Gondor'"),
        ({"received_at": NOW + dt.timedelta(days=1)}, "received_at", "in the future"),
        ({"tipline_report_id": 4242}, "tipline_report_id", "4242"),
        ({"missing_case_id": 77}, "missing_case_id", "77"),
    ],
)
def test_record_report_validation_stores_nothing(
    seeded: Store, row_count: Any, changes: dict[str, Any], field: str, given: str
) -> None:
    with pytest.raises(InputError) as caught:
        _report(seeded, **changes)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert given in str(caught.value)
    assert row_count(TraffickingReport) == 0
    assert row_count(AuditEvent) == 0


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        ({"source": "newspaper"}, ["source", "'tipline', 'missing_case' or 'hotline'", "newspaper"]),
        ({"received_at": dt.datetime(2023, 1, 1)}, ["received_at", "timezone"]),
        ({"reference": ""}, ["reference", "at least 1 character"]),
        ({"note": "x"}, ["note", "Extra inputs are not permitted"]),
    ],
)
def test_report_schema_rejects_bad_input(changes: dict[str, Any], fragments: list[str]) -> None:
    fields: dict[str, Any] = {"reference": "R-1", "source": "hotline", "received_at": NOW}
    fields.update(changes)
    with pytest.raises(pydantic.ValidationError) as caught:
        TraffickingReportCreate(**fields)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_list_reports_filters(seeded: Store) -> None:
    ohio = _report(seeded, reference="A", received_at=NOW - dt.timedelta(days=3))
    texas = _report(seeded, reference="B", state_code="TX", source="hotline", received_at=NOW - dt.timedelta(days=2))
    with seeded.unit_of_work() as session:
        assert [r.id for r in service.list_reports(session=session)] == [ohio.id, texas.id]
        assert [r.id for r in service.list_reports(session=session, state_code="texas")] == [texas.id]
        assert [r.id for r in service.list_reports(session=session, source="hotline")] == [texas.id]
        recent = service.list_reports(session=session, received_from=NOW - dt.timedelta(days=2, hours=1))
        assert [r.id for r in recent] == [texas.id]
        with pytest.raises(InputError, match="source: expected one of: tipline, missing_case, hotline"):
            service.list_reports(session=session, source="fax")


def test_engagement_lifecycle_complete(seeded: Store, agency_id: AgencyId) -> None:
    report = _report(seeded)
    social = agency_id("OH", AgencyKind.SOCIAL_SERVICES)
    engagement = _engage(seeded, report.id, social)
    assert engagement.status is EngagementStatus.ACTIVE
    with seeded.unit_of_work() as session:
        done = service.complete_engagement(
            session=session, engagement_id=engagement.id, at=NOW - dt.timedelta(days=1), actor="caseworker"
        )
        assert done.status is EngagementStatus.COMPLETED
        read = EngagementRead.model_validate(done)
        assert read.ended_at == NOW - dt.timedelta(days=1)
    with seeded.unit_of_work() as session, pytest.raises(Conflict, match="completed"):
        service.cancel_engagement(session=session, engagement_id=engagement.id, at=NOW, actor="caseworker")


def test_cancelled_engagement_stays_stored(seeded: Store, agency_id: AgencyId, row_count: Any) -> None:
    report = _report(seeded)
    engagement = _engage(seeded, report.id, agency_id("OH", AgencyKind.SOCIAL_SERVICES))
    with seeded.unit_of_work() as session:
        service.cancel_engagement(
            session=session, engagement_id=engagement.id, at=NOW, actor="caseworker", reason="family moved"
        )
    assert row_count(Engagement) == 1
    with seeded.unit_of_work() as session:
        stored = service.get_engagement(session=session, engagement_id=engagement.id)
        assert stored.status is EngagementStatus.CANCELLED
        assert stored.ended_at is not None
        cancelled = service.list_engagements(session=session, status="cancelled")
        assert [e.id for e in cancelled] == [engagement.id]
        assert service.list_engagements(session=session, status=EngagementStatus.ACTIVE) == []
        with pytest.raises(Conflict, match="cancelled"):
            service.complete_engagement(session=session, engagement_id=engagement.id, at=NOW, actor="a")


def test_list_engagements_by_agency_and_state(seeded: Store, agency_id: AgencyId) -> None:
    report = _report(seeded)
    ohio = agency_id("OH", AgencyKind.SOCIAL_SERVICES)
    texas = agency_id("TX", AgencyKind.SOCIAL_SERVICES)
    in_ohio = _engage(seeded, report.id, ohio)
    in_texas = _engage(seeded, report.id, texas, service="youth_engagement")
    with seeded.unit_of_work() as session:
        assert [e.id for e in service.list_engagements(session=session, agency_id=ohio)] == [in_ohio.id]
        assert [e.id for e in service.list_engagements(session=session, state_code="Texas")] == [in_texas.id]
        assert len(service.list_engagements(session=session, trafficking_report_id=report.id)) == 2
        assert len(service.list_engagements(session=session, started_to=NOW - dt.timedelta(days=6))) == 0


def test_second_active_engagement_of_the_same_service_is_a_conflict(seeded: Store, agency_id: AgencyId) -> None:
    report = _report(seeded)
    social = agency_id("OH", AgencyKind.SOCIAL_SERVICES)
    _engage(seeded, report.id, social)
    with pytest.raises(Conflict, match="recovery_planning"):
        _engage(seeded, report.id, social)


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"agency_id": 99999}, "agency_id", "99999"),
        ({"trafficking_report_id": 555}, "trafficking_report_id", "555"),
        ({"started_at": NOW + dt.timedelta(days=2)}, "started_at", "in the future"),
        ("icac", "agency_id", "expected a social-services agency"),
    ],
)
def test_start_engagement_validation_stores_nothing(
    seeded: Store, agency_id: AgencyId, row_count: Any, changes: Any, field: str, fragment: str
) -> None:
    report = _report(seeded)
    if changes == "icac":
        changes = {"agency_id": agency_id("OH", AgencyKind.ICAC_TASK_FORCE)}
    before = row_count(AuditEvent)
    with pytest.raises(InputError) as caught:
        _engage(seeded, report.id, agency_id("OH", AgencyKind.SOCIAL_SERVICES), **changes)
    assert caught.value.field == field
    assert fragment in str(caught.value)
    assert row_count(Engagement) == 0
    assert row_count(AuditEvent) == before


def test_inactive_agency_is_refused(seeded: Store, agency_id: AgencyId) -> None:
    report = _report(seeded)
    social = agency_id("OH", AgencyKind.SOCIAL_SERVICES)
    with seeded.unit_of_work() as session:
        agency = session.get(Agency, social)
        assert agency is not None
        agency.active = False
    with pytest.raises(InputError, match="inactive"):
        _engage(seeded, report.id, social)


def test_ending_before_the_start_is_refused(seeded: Store, agency_id: AgencyId) -> None:
    engagement = _engage(seeded, _report(seeded).id, agency_id("OH", AgencyKind.SOCIAL_SERVICES))
    with seeded.unit_of_work() as session, pytest.raises(InputError) as caught:
        service.complete_engagement(
            session=session, engagement_id=engagement.id, at=NOW - dt.timedelta(days=9), actor="a"
        )
    assert caught.value.field == "at"
    assert "comes before started_at" in str(caught.value)
