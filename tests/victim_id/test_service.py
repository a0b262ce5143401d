"""Victim identification: submissions and their review, series and identifications."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pydantic
import pytest

from clearinghouse.access.models import AuditEvent
from clearinghouse.db.engine import Store
from clearinghouse.errors import Conflict, InputError, NotFound
from clearinghouse.geo.models import AgencyKind
from clearinghouse.victim_id import service
from clearinghouse.victim_id.models import Identification, Series, SeriesStatus, Submission, SubmissionStatus
from clearinghouse.victim_id.schemas import (
    IdentificationCreate,
    IdentificationRead,
    SeriesCreate,
    SeriesRead,
    SubmissionCreate,
    SubmissionRead,
)

NOW = dt.datetime.now(dt.UTC)
AgencyId = Callable[[str, AgencyKind], int]


def _submit(store: Store, agency: int, **changes: Any) -> Submission:
    fields: dict[str, Any] = {
        "agency_id": agency,
        "case_number": "2023-ICAC-0042",
        "submitted_at": NOW - dt.timedelta(days=6),
        "file_count": 120,
    }
    fields.update(changes)
    with store.unit_of_work() as session:
        return service.receive_submission(session=session, data=SubmissionCreate(**fields), actor="portal")


def _series(store: Store, code: str = "SER-0001") -> Series:
    with store.unit_of_work() as session:
        return service.open_series(session=session, data=SeriesCreate(code=code, opened_at=NOW - dt.timedelta(days=60)))


def _identify(store: Store, **changes: Any) -> Identification:
    fields: dict[str, Any] = {"reference": "ID-0001", "identified_at": NOW - dt.timedelta(days=1)}
    fields.update(changes)
    with store.unit_of_work() as session:
        return service.record_identification(session=session, data=IdentificationCreate(**fields))


def test_receive_submission_and_read(seeded: Store, agency_id: AgencyId) -> None:
    icac = agency_id("WA", AgencyKind.ICAC_TASK_FORCE)
    submission = _submit(seeded, icac)
    assert submission.status is SubmissionStatus.RECEIVED
    with seeded.unit_of_work() as session:
        read = SubmissionRead.model_validate(service.get_submission(session=session, submission_id=submission.id))
        assert (read.case_number, read.file_count) == ("2023-ICAC-0042", 120)
        assert read.submitted_at == NOW - dt.timedelta(days=6)
        with pytest.raises(NotFound):
            service.get_submission(session=session, submission_id=999)


@pytest.mark.parametrize(
    "kind", [AgencyKind.STATE_LAW_ENFORCEMENT, AgencyKind.ICAC_TASK_FORCE, AgencyKind.FEDERAL_LAW_ENFORCEMENT]
)
def test_every_law_enforcement_kind_may_submit(seeded: Store, agency_id: AgencyId, kind: AgencyKind) -> None:
    state = "FED" if kind is AgencyKind.FEDERAL_LAW_ENFORCEMENT else "WA"
    assert _submit(seeded, agency_id(state, kind)).id > 0


def test_a_repeated_submission_returns_the_stored_one(seeded: Store, agency_id: AgencyId, row_count: Any) -> None:
    icac = agency_id("WA", AgencyKind.ICAC_TASK_FORCE)
    first = _submit(seeded, icac)
    again = _submit(seeded, icac, case_number=" 2023-ICAC-0042 ", file_count=7)
    assert again.id == first.id
    assert again.file_count == 120
    assert row_count(Submission) == 1
    other_case = _submit(seeded, icac, case_number="2023-ICAC-0043")
    assert other_case.id != first.id


def test_review_lifecycle(seeded: Store, agency_id: AgencyId) -> None:
    submission = _submit(seeded, agency_id("WA", AgencyKind.ICAC_TASK_FORCE))
    started, completed = NOW - dt.timedelta(days=5), NOW - dt.timedelta(days=2)
    with seeded.unit_of_work() as session:
        service.start_review(session=session, submission_id=submission.id, at=started, actor="analyst")
    with seeded.unit_of_work() as session:
        with pytest.raises(Conflict, match="only a received one"):
            service.start_review(session=session, submission_id=submission.id, at=started, actor="analyst")
        done = service.complete_review(session=session, submission_id=submission.id, at=completed, actor="analyst")
        assert (done.status, done.review_started_at, done.review_completed_at) == (
            SubmissionStatus.REVIEWED,
            started,
            completed,
        )
    with seeded.unit_of_work() as session:
        with pytest.raises(Conflict, match="already reviewed"):
            service.complete_review(session=session, submission_id=submission.id, at=NOW, actor="analyst")
        with pytest.raises(Conflict, match="already reviewed"):
            service.withdraw(session=session, submission_id=submission.id, at=NOW, actor="analyst")
        reviewed = service.list_submissions(
            session=session, state_code="Washington", reviewed_from=completed, reviewed_to=NOW
        )
        assert [s.id for s in reviewed] == [submission.id]
        assert service.list_submissions(session=session, reviewed_to=completed) == []


def test_complete_review_without_start_and_time_order(seeded: Store, agency_id: AgencyId) -> None:
    submission = _submit(seeded, agency_id("WA", AgencyKind.ICAC_TASK_FORCE))
    with seeded.unit_of_work() as session, pytest.raises(InputError) as caught:
        service.complete_review(
            session=session, submission_id=submission.id, at=NOW - dt.timedelta(days=7), actor="analyst"
        )
    assert caught.value.field == "at"
    assert "comes before submitted_at" in str(caught.value)
    with seeded.unit_of_work() as session:
        done = service.complete_review(session=session, submission_id=submission.id, at=NOW, actor="analyst")
        assert done.review_started_at == done.review_completed_at == NOW


def test_withdrawn_submission(seeded: Store, agency_id: AgencyId) -> None:
    submission = _submit(seeded, agency_id("WA", AgencyKind.ICAC_TASK_FORCE))
    with seeded.unit_of_work() as session:
        service.withdraw(session=session, submission_id=submission.id, at=NOW, actor="officer", reason="duplicate")
    with seeded.unit_of_work() as session:
        assert [s.id for s in service.list_submissions(session=session, status="withdrawn")] == [submission.id]
        with pytest.raises(Conflict, match="already withdrawn"):
            service.complete_review(session=session, submission_id=submission.id, at=NOW, actor="analyst")


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"agency_id": 31337}, "agency_id", "31337"),
        ("social", "agency_id", "expected a law-enforcement agency"),
        ({"submitted_at": NOW + dt.timedelta(days=1)}, "submitted_at", "is in the future"),
    ],
)
def test_receive_submission_validation_stores_nothing(
    seeded: Store, agency_id: AgencyId, row_count: Any, changes: Any, field: str, fragment: str
) -> None:
    if changes == "social":
        changes = {"agency_id": agency_id("WA", AgencyKind.SOCIAL_SERVICES)}
    with pytest.raises(InputError) as caught:
        _submit(seeded, agency_id("WA", AgencyKind.ICAC_TASK_FORCE), **changes)
    assert caught.value.field == field
    assert fragment in str(caught.value)
    assert (row_count(Submission), row_count(AuditEvent)) == (0, 0)


def test_series_and_identification(seeded: Store, agency_id: AgencyId) -> None:
    series = _series(seeded)
    assert series.status is SeriesStatus.TRACKED
    identifying = agency_id("WA", AgencyKind.STATE_LAW_ENFORCEMENT)
    identification = _identify(seeded, series_id=series.id, identifying_agency_id=identifying)
    with seeded.unit_of_work() as session:
        stored = service.get_series_by_code(session=session, code="SER-0001")
        assert SeriesRead.model_validate(stored).status is SeriesStatus.IDENTIFIED
        read = IdentificationRead.model_validate(
            service.get_identification(session=session, identification_id=identification.id)
        )
        assert (read.series_id, read.identifying_agency_id) == (series.id, identifying)
        assert [i.id for i in service.list_identifications(session=session, series_id=series.id)] == [identification.id]
        assert [s.id for s in service.list_series(session=session, status="identified")] == [series.id]
        assert service.list_series(session=session, status=SeriesStatus.TRACKED) == []


def test_identification_without_series(seeded: Store) -> None:
    identification = _identify(seeded)
    assert identification.series_id is None


def test_duplicate_series_code_and_reference_are_conflicts(seeded: Store, row_count: Any) -> None:
    _series(seeded)
    with pytest.raises(Conflict, match="SER-0001"):
        _series(seeded)
    _identify(seeded)
    with pytest.raises(Conflict, match="ID-0001"):
        _identify(seeded, identified_at=NOW)
    assert (row_count(Series), row_count(Identification)) == (1, 1)


def test_an_identification_before_its_series_was_opened_is_refused(seeded: Store, row_count: Any) -> None:
    series = _series(seeded)  # opened 60 days ago
    with pytest.raises(InputError) as caught:
        _identify(seeded, series_id=series.id, identified_at=NOW - dt.timedelta(days=61))
    assert caught.value.field == "identified_at"
    assert "comes before series 'SER-0001' was opened" in str(caught.value)
    assert row_count(Identification) == 0
    with seeded.session() as session:
        assert service.get_series(session=session, series_id=series.id).status is SeriesStatus.TRACKED
    _identify(seeded, series_id=series.id, identified_at=series.opened_at)  # the day it was opened will do


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"identified_at": NOW + dt.timedelta(days=2)}, "identified_at", "is in the future"),
        ({"series_id": 8080}, "series_id", "8080"),
        ({"identifying_agency_id": 9191}, "identifying_agency_id", "9191"),
    ],
)
def test_record_identification_validation_stores_nothing(
    seeded: Store, row_count: Any, changes: dict[str, Any], field: str, fragment: str
) -> None:
    with pytest.raises(InputError) as caught:
        _identify(seeded, **changes)
    assert caught.value.field == field
    assert fragment in str(caught.value)
    assert (row_count(Identification), row_count(AuditEvent)) == (0, 0)


@pytest.mark.parametrize(
    ("model", "fields", "fragments"),
    [
        (SubmissionCreate, {"agency_id": 1, "case_number": ""}, ["case_number", "at least 1 character"]),
        (SubmissionCreate, {"agency_id": 1, "case_number": "C", "file_count": -1}, ["file_count", "-1"]),
        (SeriesCreate, {"code": "S", "opened_at": dt.datetime(2023, 1, 1)}, ["opened_at", "timezone"]),
        (IdentificationCreate, {"reference": "R", "identified_at": NOW, "child_name": "x"}, ["child_name"]),
    ],
)
def test_schemas_reject_bad_input(
    model: type[pydantic.BaseModel], fields: dict[str, Any], fragments: list[str]
) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        model(**fields)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_list_submissions_by_unknown_state_is_an_input_error(seeded: Store) -> None:
    with seeded.unit_of_work() as session, pytest.raises(InputError, match="state_code"):
        service.list_submissions(session=session, state_code="Atlantis")
