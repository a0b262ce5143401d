"""Missing-child cases: intake, deduplication, lookups, lifecycle, indicators and validation."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pydantic
import pytest
import sqlalchemy as sa

from clearinghouse.access.models import AuditEvent
from clearinghouse.db.engine import Store
from clearinghouse.errors import Conflict, InputError, NotFound
from clearinghouse.missing import service
from clearinghouse.missing.indicators import Indicator, likely_trafficking
from clearinghouse.missing.models import CaseCategory, CaseEvent, CaseStatus, CaseType, MissingCase
from clearinghouse.missing.schemas import IntakeRead, MissingCaseCreate, MissingCaseRead

NOW = dt.datetime.now(dt.UTC)
YESTERDAY = (NOW - dt.timedelta(days=1)).date()
Intake = Callable[..., MissingCaseCreate]


def _open(store: Store, data: MissingCaseCreate) -> service.IntakeResult:
    with store.unit_of_work() as session:
        return service.open_case(session=session, data=data, actor="intake-officer")


def test_open_case_stores_the_case_with_number_event_and_audit(seeded: Store, intake: Intake) -> None:
    data = intake(state_code="california", indicators=["older_companion"])
    result = _open(seeded, data)
    assert result.duplicate is False
    case = result.case
    assert case.state_code == "CA"
    assert re.fullmatch(rf"MC-{case.opened_at.year}-\d{{6,}}", case.case_number)
    assert case.case_number.endswith(f"{case.id:06d}")
    with seeded.unit_of_work() as session:
        stored = service.get(session=session, case_id=case.id)
        assert stored.status is CaseStatus.OPEN
        assert stored.opened_at == data.opened_at
        assert stored.opened_at.tzinfo is not None
        assert stored.indicators == ["older_companion"]
        assert len(stored.intake_key) == 64
        assert service.get_by_number(session=session, case_number=case.case_number).id == case.id
        assert [event.kind for event in service.timeline(session=session, case_id=case.id)] == ["opened"]
        read = IntakeRead(case=MissingCaseRead.model_validate(stored), duplicate=False)
        assert "intake_key" not in read.case.model_dump()


def test_opened_at_defaults_to_now(seeded: Store, intake: Intake) -> None:
    case = _open(seeded, intake(opened_at=None)).case
    assert abs(case.opened_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)


def test_case_numbers_are_unique(seeded: Store, intake: Intake) -> None:
    numbers = {_open(seeded, intake()).case.case_number for _ in range(5)}
    assert len(numbers) == 5


def test_get_unknown_case_is_not_found(seeded: Store) -> None:
    with seeded.unit_of_work() as session, pytest.raises(NotFound):
        service.get(session=session, case_id=9999)
    with seeded.unit_of_work() as session, pytest.raises(NotFound):
        service.get_by_number(session=session, case_number="MC-2023-999999")


def test_duplicate_intake_returns_the_existing_case(seeded: Store, intake: Intake, row_count: Any) -> None:
    first = _open(seeded, intake(child_given_name="José", child_family_name="De la Cruz"))
    # Half an hour apart on the same day, whatever the time of day the test runs at (the key holds the day).
    since = first.case.missing_since
    half_hour = dt.timedelta(minutes=30)
    other_time = since + half_hour if (since + half_hour).date() == since.date() else since - half_hour
    repeat = intake(
        child_given_name="  jose ",
        child_family_name="DE LA  CRUZ",
        child_birth_date=first.case.child_birth_date,
        missing_since=other_time,
        reported_by="parent",
        indicators=["hotel_sightings"],
        state_code="Ca",
    )
    second = _open(seeded, repeat)
    assert second.duplicate is True
    assert second.case.id == first.case.id
    assert row_count(MissingCase) == 1
    with seeded.unit_of_work() as session:
        events = service.timeline(session=session, case_id=first.case.id)
        assert [event.kind for event in events] == ["opened", "duplicate_intake"]
        assert events[1].detail == {"reported_by": "parent", "indicators_added": ["hotel_sightings"]}
        assert service.get(session=session, case_id=first.case.id).indicators == ["hotel_sightings"]


def test_another_episode_of_the_same_child_is_a_new_case(seeded: Store, intake: Intake) -> None:
    first = _open(seeded, intake())
    later = first.case.missing_since + dt.timedelta(days=1)
    second = _open(
        seeded,
        intake(
            child_given_name=first.case.child_given_name,
            child_family_name=first.case.child_family_name,
            child_birth_date=first.case.child_birth_date,
            missing_since=later,
            opened_at=later + dt.timedelta(hours=1),
        ),
    )
    assert second.duplicate is False
    assert second.case.id != first.case.id


def test_list_cases_filters(seeded: Store, intake: Intake) -> None:
    ca = _open(seeded, intake()).case
    tx = _open(seeded, intake(state_code="TX", category=CaseCategory.OTHER)).case
    orr = _open(seeded, intake(state_code="Texas", category="hhs_orr")).case
    with seeded.unit_of_work() as session:
        assert [c.id for c in service.list_cases(session=session)] == [ca.id, tx.id, orr.id]
        assert [c.id for c in service.list_cases(session=session, state_code="tx")] == [tx.id, orr.id]
        assert [c.id for c in service.list_cases(session=session, category="hhs_orr")] == [orr.id]
        assert [c.id for c in service.list_cases(session=session, status=CaseStatus.RESOLVED)] == []
        window = service.list_cases(
            session=session, opened_from=tx.opened_at, opened_to=tx.opened_at + dt.timedelta(microseconds=1)
        )
        assert {c.id for c in window} >= {tx.id}
        assert len(service.list_cases(session=session, limit=1, offset=1)) == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"offset": -1}, "offset"),
        ({"state_code": "Atlantis"}, "state_code"),
        ({"category": "lost"}, "category"),
        ({"opened_from": dt.datetime(2023, 1, 1)}, "opened_from"),
    ],
)
def test_list_cases_rejects_bad_filters(seeded: Store, kwargs: dict[str, Any], field: str) -> None:
    with seeded.unit_of_work() as session, pytest.raises(InputError) as caught:
        service.list_cases(session=session, **kwargs)
    assert caught.value.field == field


def test_resolve_and_reopen_keep_the_same_case_in_its_first_year(seeded: Store, intake: Intake) -> None:
    case = _open(seeded, intake()).case
    resolved_at = case.opened_at + dt.timedelta(hours=5)
    with seeded.unit_of_work() as session:
        resolved = service.resolve(
            session=session, case_id=case.id, at=resolved_at, resolution="recovered", actor="analyst"
        )
        assert resolved.status is CaseStatus.RESOLVED
        assert resolved.resolution == "recovered"
    with seeded.unit_of_work() as session:
        reopened = service.reopen(
            session=session, case_id=case.id, at=resolved_at + dt.timedelta(hours=1), actor="analyst"
        )
        assert reopened.id == case.id
        assert reopened.status is CaseStatus.OPEN
        assert reopened.reopen_count == 1
        assert reopened.resolved_at is None
        assert reopened.opened_at == case.opened_at
    with seeded.unit_of_work() as session:
        kinds = [event.kind for event in service.timeline(session=session, case_id=case.id)]
        assert kinds == ["opened", "resolved", "reopened"]
        in_first_year = service.list_cases(
            session=session,
            opened_from=dt.datetime(case.opened_at.year, 1, 1, tzinfo=dt.UTC),
            opened_to=dt.datetime(case.opened_at.year + 1, 1, 1, tzinfo=dt.UTC),
        )
        assert [c.id for c in in_first_year] == [case.id]
        with pytest.raises(InputError) as caught:  # before the reopening
            service.resolve(session=session, case_id=case.id, at=resolved_at, resolution="recovered", actor="a")
        assert caught.value.field == "at"


def test_resolve_twice_and_reopen_an_open_case_are_conflicts(seeded: Store, intake: Intake) -> None:
    case = _open(seeded, intake()).case
    with seeded.unit_of_work() as session, pytest.raises(Conflict):
        service.reopen(session=session, case_id=case.id, at=NOW, actor="analyst")
    with seeded.unit_of_work() as session:
        service.resolve(session=session, case_id=case.id, at=NOW, resolution="returned_on_own", actor="a")
    with seeded.unit_of_work() as session, pytest.raises(Conflict):
        service.resolve(session=session, case_id=case.id, at=NOW, resolution="recovered", actor="a")


@pytest.mark.parametrize(
    ("at", "resolution", "field", "fragment"),
    [
        (NOW, "found", "resolution", "recovered, returned_on_own"),
        (NOW + dt.timedelta(days=1), "recovered", "at", "in the future"),
        (NOW - dt.timedelta(days=30), "recovered", "at", "comes before opened_at"),
        (dt.datetime(2023, 5, 1, 12), "recovered", "at", "time zone"),
    ],
)
def test_resolve_validation(
    seeded: Store, intake: Intake, at: dt.datetime, resolution: str, field: str, fragment: str
) -> None:
    case = _open(seeded, intake()).case
    with seeded.unit_of_work() as session, pytest.raises(InputError) as caught:
        service.resolve(session=session, case_id=case.id, at=at, resolution=resolution, actor="a")
    assert caught.value.field == field
    assert fragment in str(caught.value)


def test_indicators_flag_likely_trafficking(seeded: Store, intake: Intake) -> None:
    case = _open(seeded, intake(indicators=["history_of_running_away", "older_companion"])).case
    assert case.likely_trafficking is False
    with seeded.unit_of_work() as session:
        updated = service.add_indicator(
            session=session, case_id=case.id, indicator=Indicator.HOTEL_SIGHTINGS, actor="analyst"
        )
        assert updated.likely_trafficking is True
        again = service.add_indicator(session=session, case_id=case.id, indicator="hotel_sightings", actor="a")
        assert again.indicators.count("hotel_sightings") == 1
    with seeded.unit_of_work() as session:
        kinds = [event.kind for event in service.timeline(session=session, case_id=case.id)]
        assert kinds == ["opened", "indicator_added"]
        with pytest.raises(InputError) as caught:
            service.add_indicator(session=session, case_id=case.id, indicator="tattoo", actor="a")
        assert "branding_tattoo" in str(caught.value)
        assert "'tattoo'" in str(caught.value)


def test_one_strong_indicator_is_enough_at_intake(seeded: Store, intake: Intake) -> None:
    assert _open(seeded, intake(indicators=["branding_tattoo"])).case.likely_trafficking is True


def test_likely_trafficking_rule() -> None:
    assert likely_trafficking([]) is False
    assert likely_trafficking(["advertised_online"]) is True
    assert likely_trafficking(["history_of_running_away", "substance_use"]) is False
    assert likely_trafficking(["history_of_running_away", "substance_use", "travel_out_of_area"]) is True


def _too_old(years: int) -> dt.date:
    return (NOW - dt.timedelta(days=2) - dt.timedelta(days=years * 365 + 30)).date()


@pytest.mark.parametrize(
    ("changes", "field", "given"),
    [
        ({"state_code": "Atlantis"}, "state_code", "'Atlantis'"),
        ({"missing_since": NOW + dt.timedelta(days=1), "opened_at": None}, "missing_since", "given"),
        ({"opened_at": NOW + dt.timedelta(hours=2)}, "opened_at", "given"),
        ({"opened_at": NOW - dt.timedelta(days=3)}, "opened_at", "comes before missing_since"),
        ({"child_birth_date": (NOW + dt.timedelta(days=3)).date()}, "child_birth_date", "in the future"),
        ({"child_birth_date": YESTERDAY}, "child_birth_date", "after missing_since"),
        ({"child_birth_date": _too_old(18)}, "child_birth_date", "age 18"),
        (
            {"child_birth_date": _too_old(17), "case_type": CaseType.CRITICALLY_MISSING_YOUNG_ADULT},
            "child_birth_date",
            "18 to 20",
        ),
        (
            {"child_birth_date": _too_old(21), "case_type": CaseType.CRITICALLY_MISSING_YOUNG_ADULT},
            "child_birth_date",
            "age 21",
        ),
    ],
)
def test_open_case_validation_stores_nothing(
    seeded: Store, intake: Intake, row_count: Any, changes: dict[str, Any], field: str, given: str
) -> None:
    data = intake(**changes)
    before = (row_count(MissingCase), row_count(CaseEvent), row_count(AuditEvent))
    with pytest.raises(InputError) as caught:
        _open(seeded, data)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert given in str(caught.value)
    assert (row_count(MissingCase), row_count(CaseEvent), row_count(AuditEvent)) == before


def test_young_adult_of_twenty_is_accepted(seeded: Store, intake: Intake) -> None:
    data = intake(child_birth_date=_too_old(20), case_type="critically_missing_young_adult")
    assert _open(seeded, data).case.case_type is CaseType.CRITICALLY_MISSING_YOUNG_ADULT


@pytest.mark.parametrize(
    ("changes", "field", "fragments"),
    [
        ({"category": "foster"}, "category", ["'social_services', 'other' or 'hhs_orr'", "foster"]),
        ({"case_type": "abduction"}, "case_type", ["'endangered_runaway'", "abduction"]),
        ({"missing_since": dt.datetime(2023, 5, 1, 12)}, "missing_since", ["timezone"]),
        ({"child_given_name": "   "}, "child_given_name", ["at least 1 character"]),
        ({"indicators": ["psychic_vision"]}, "indicators.0", ["'advertised_online'", "psychic_vision"]),
        ({"unexpected": 1}, "unexpected", ["Extra inputs are not permitted"]),
    ],
)
def test_schema_rejects_bad_input(intake: Intake, changes: dict[str, Any], field: str, fragments: list[str]) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        intake(**changes)
    text = str(caught.value)
    assert field in text
    for fragment in fragments:
        assert fragment in text


def test_failed_unit_of_work_leaves_nothing(seeded: Store, intake: Intake, row_count: Any) -> None:
    def open_then_fail() -> None:
        with seeded.unit_of_work() as session:
            service.open_case(session=session, data=intake(), actor="a")
            raise RuntimeError("the caller failed later in the same unit of work")

    with pytest.raises(RuntimeError):
        open_then_fail()
    assert row_count(MissingCase) == 0
    assert row_count(CaseEvent) == 0


def test_two_intakes_of_one_episode_at_once_open_one_case(pg_store: Store, intake: Intake) -> None:
    """PostgreSQL, where intakes run side by side: the second one, which could not see the first case yet,
    lands on it when the first commits (the intake key is unique)."""
    import threading
    import time

    from clearinghouse.geo.agencies import seed_directory

    with pg_store.unit_of_work() as session:
        seed_directory(session)
    data = intake()
    outcome: dict[str, Any] = {}

    def second_intake() -> None:
        try:
            with pg_store.unit_of_work() as session:
                outcome["result"] = service.open_case(session=session, data=data, actor="second")
        except BaseException as error:
            outcome["error"] = error

    with pg_store.unit_of_work() as session:
        first = service.open_case(session=session, data=data, actor="first")  # flushed, not yet committed
        racer = threading.Thread(target=second_intake)
        racer.start()
        time.sleep(0.5)  # the second intake is now waiting on the unique key
    racer.join(timeout=30)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["result"].duplicate is True
    assert outcome["result"].case.id == first.case.id
    with pg_store.unit_of_work() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(MissingCase)) == 1
        kinds = [event.kind for event in service.timeline(session=session, case_id=first.case.id)]
    assert kinds == ["opened", "duplicate_intake"]
