"""Missing-child cases: intake with deduplication, lookups, resolution, reopening, indicators and timelines.

Intake deduplicates on an *intake key*: the SHA-256 of the normalised given name, family name, birth date,
state and the UTC date of ``missing_since``. A second intake with the same key is the same child in the same
episode: the existing case is returned and a ``duplicate_intake`` event (with any new indicators merged) is
written instead of a second case, so the state sheet never counts one episode twice.

Case numbers read ``MC-<year opened>-<id, six digits or more>``. The id comes from the store's own key
sequence, so numbers are unique on every backend without a counter table or a lock; they are increasing but
not consecutive within a year.

A case is flagged ``likely_trafficking`` when it carries at least one strong indicator (advertised online,
branding tattoo, commercial sex disclosed) or at least three supporting ones; the full rule and the indicator
list live in :mod:`clearinghouse.missing.indicators`.

Every function adds to the caller's unit of work and never commits; on any error nothing has been added.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clearinghouse.access import audit
from clearinghouse.db.base import utcnow
from clearinghouse.errors import Conflict, InputError, NotFound, require_aware, require_order, require_past
from clearinghouse.missing.indicators import Indicator, likely_trafficking
from clearinghouse.missing.models import CaseCategory, CaseEvent, CaseStatus, CaseType, MissingCase
from clearinghouse.missing.schemas import CaseResolution, MissingCaseCreate
from clearinghouse.validation import check_page as _check_page
from clearinghouse.validation import coerce_enum as _enum
from clearinghouse.validation import require_row
from clearinghouse.validation import state_code as _state_code

SUBJECT = "missing_case"
MAX_PAGE = 1000
ADULT_AGE = 18
YOUNG_ADULT_MAX_AGE = 20
"""A critically missing young adult is 18, 19 or 20 years old when they go missing."""

E = TypeVar("E", bound=enum.Enum)


@dataclass(frozen=True, slots=True)
class IntakeResult:
    """The case an intake landed on, and whether it already existed (a duplicate intake)."""

    case: MissingCase
    duplicate: bool


def _age_on(birth_date: dt.date, day: dt.date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def _normalise_name(text: str) -> str:
    # Accents, case, punctuation and spacing vary between reporters; the intake key must not.
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(re.findall(r"[^\W_]+", bare.casefold()))


def intake_key(
    *, given_name: str, family_name: str, birth_date: dt.date, state_code: str, missing_since: dt.datetime
) -> str:
    """The deduplication key of one child's missing episode (hex SHA-256)."""
    parts = (
        _normalise_name(given_name),
        _normalise_name(family_name),
        birth_date.isoformat(),
        state_code.upper(),
        require_aware("missing_since", missing_since).date().isoformat(),
    )
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def _check_child_age(case_type: CaseType, birth_date: dt.date, missing_since: dt.datetime) -> None:
    today = utcnow().date()
    if birth_date > today:
        problem = f"is in the future (today is {today.isoformat()})"
        raise InputError("child_birth_date", problem, birth_date.isoformat())
    missing_day = missing_since.date()
    if birth_date > missing_day:
        problem = f"comes after missing_since ({missing_day.isoformat()})"
        raise InputError("child_birth_date", problem, birth_date.isoformat())
    age = _age_on(birth_date, missing_day)
    if case_type is CaseType.CRITICALLY_MISSING_YOUNG_ADULT:
        if not ADULT_AGE <= age <= YOUNG_ADULT_MAX_AGE:
            raise InputError(
                "child_birth_date",
                f"gives age {age} at missing_since; a critically missing young adult is 18 to 20",
                birth_date.isoformat(),
            )
    elif age >= ADULT_AGE:
        raise InputError(
            "child_birth_date",
            f"gives age {age} at missing_since; a missing child is under 18 "
            f"(case_type {CaseType.CRITICALLY_MISSING_YOUNG_ADULT.value} covers 18 to 20)",
            birth_date.isoformat(),
        )


def _event(
    session: Session, case: MissingCase, kind: str, actor: str, at: dt.datetime, detail: dict[str, Any] | None
) -> CaseEvent:
    event = CaseEvent(case_id=case.id, at=at, kind=kind, actor=actor, detail=detail)
    session.add(event)
    audit.record(session=session, actor=actor, action=kind, subject_type=SUBJECT, subject_id=case.id, detail=detail)
    return event


def _set_indicators(case: MissingCase, indicators: list[str]) -> None:
    # A new list (not an in-place append) so the JSON column is seen as changed.
    case.indicators = indicators
    case.likely_trafficking = likely_trafficking(indicators)


def _case_of_episode(session: Session, key: str) -> MissingCase | None:
    return session.scalars(sa.select(MissingCase).where(MissingCase.intake_key == key)).first()


def _repeated_intake(
    session: Session,
    existing: MissingCase,
    indicators: list[str],
    reported_by: str,
    actor: str,
    at: dt.datetime,
) -> IntakeResult:
    """Land a repeated intake of an episode on its case: new indicators added, the repeat recorded."""
    added = [value for value in indicators if value not in existing.indicators]
    if added:
        _set_indicators(existing, [*existing.indicators, *added])
    detail = {"reported_by": reported_by, "indicators_added": added}
    _event(session, existing, "duplicate_intake", actor, at, detail)
    return IntakeResult(case=existing, duplicate=True)


def open_case(*, session: Session, data: MissingCaseCreate, actor: str) -> IntakeResult:
    """Open a case for a missing child, or land a repeated intake of the same episode on the existing case."""
    state_code = _state_code(session, "state_code", data.state_code)
    missing_since = require_past("missing_since", data.missing_since)
    opened_at = require_past("opened_at", data.opened_at) if data.opened_at is not None else utcnow()
    require_order("missing_since", missing_since, "opened_at", opened_at)
    _check_child_age(data.case_type, data.child_birth_date, missing_since)
    indicators = [Indicator(value).value for value in data.indicators]
    key = intake_key(
        given_name=data.child_given_name,
        family_name=data.child_family_name,
        birth_date=data.child_birth_date,
        state_code=state_code,
        missing_since=missing_since,
    )

    existing = _case_of_episode(session, key)
    if existing is not None:
        return _repeated_intake(session, existing, indicators, data.reported_by, actor, opened_at)

    case = MissingCase(
        # Unique placeholder until the id is known; replaced before the unit of work commits.
        case_number=f"MC-PENDING-{secrets.token_hex(6)}",
        state_code=state_code,
        category=data.category,
        case_type=data.case_type,
        status=CaseStatus.OPEN,
        child_given_name=data.child_given_name,
        child_family_name=data.child_family_name,
        child_birth_date=data.child_birth_date,
        missing_since=missing_since,
        opened_at=opened_at,
        reported_by=data.reported_by,
        last_seen_city=data.last_seen_city,
        intake_key=key,
        indicators=[],
        likely_trafficking=False,
        reopen_count=0,
    )
    _set_indicators(case, indicators)
    if session.get_bind().dialect.name == "postgresql":
        # Another intake of the same episode may be committing right now (on SQLite writers take turns): the unique
        # key refuses the second case, and the intake lands on the first instead.
        try:
            with session.begin_nested():
                session.add(case)
                session.flush()
        except IntegrityError:
            existing = _case_of_episode(session, key)
            if existing is None:
                raise
            return _repeated_intake(session, existing, indicators, data.reported_by, actor, opened_at)
    else:
        session.add(case)
        session.flush()
    case.case_number = f"MC-{opened_at.year}-{case.id:06d}"
    detail = {"case_number": case.case_number, "state_code": state_code, "category": data.category.value}
    _event(session, case, "opened", actor, opened_at, detail)
    return IntakeResult(case=case, duplicate=False)


def get(*, session: Session, case_id: int) -> MissingCase:
    """The case with this id."""
    case = require_row(session, MissingCase, case_id, "missing case")
    return case


def get_by_number(*, session: Session, case_number: str) -> MissingCase:
    """The case with this case number (e.g. ``MC-2023-000123``)."""
    query = sa.select(MissingCase).where(MissingCase.case_number == case_number.strip())
    case = session.scalars(query).first()
    if case is None:
        raise NotFound("missing case", case_number)
    return case


def _locked(session: Session, case_id: int) -> MissingCase:
    # Row lock on PostgreSQL so two concurrent transitions cannot both pass the status check.
    case = require_row(session, MissingCase, case_id, "missing case", lock=True)
    return case


def list_cases(
    *,
    session: Session,
    state_code: str | None = None,
    category: CaseCategory | str | None = None,
    status: CaseStatus | str | None = None,
    opened_from: dt.datetime | None = None,
    opened_to: dt.datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[MissingCase]:
    """Cases, filtered; ``opened_from`` is inclusive and ``opened_to`` exclusive; ordered by opening."""
    _check_page(limit, offset)
    query = sa.select(MissingCase)
    if state_code is not None:
        query = query.where(MissingCase.state_code == _state_code(session, "state_code", state_code))
    if category is not None:
        query = query.where(MissingCase.category == _enum("category", CaseCategory, category))
    if status is not None:
        query = query.where(MissingCase.status == _enum("status", CaseStatus, status))
    if opened_from is not None:
        query = query.where(MissingCase.opened_at >= require_aware("opened_from", opened_from))
    if opened_to is not None:
        query = query.where(MissingCase.opened_at < require_aware("opened_to", opened_to))
    query = query.order_by(MissingCase.opened_at, MissingCase.id).limit(limit).offset(offset)
    return session.scalars(query).all()


def _last_reopened_at(session: Session, case_id: int) -> dt.datetime | None:
    query = sa.select(sa.func.max(CaseEvent.at)).where(CaseEvent.case_id == case_id, CaseEvent.kind == "reopened")
    value = session.scalar(query)
    # Aggregates bypass the column type on SQLite, so the UTC tag may be missing.
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


def resolve(
    *, session: Session, case_id: int, at: dt.datetime, resolution: CaseResolution | str, actor: str
) -> MissingCase:
    """Close an open case with how it ended (one of ``CaseResolution``)."""
    chosen = _enum("resolution", CaseResolution, resolution)
    at = require_past("at", at)
    case = _locked(session, case_id)
    if case.status is not CaseStatus.OPEN:
        raise Conflict(f"missing case {case.case_number} is already {case.status.value}")
    require_order("opened_at", case.opened_at, "at", at)
    reopened_at = _last_reopened_at(session, case.id)
    if reopened_at is not None:
        require_order("the last reopening", reopened_at, "at", at)
    case.status = CaseStatus.RESOLVED
    case.resolved_at = at
    case.resolution = chosen.value
    _event(session, case, "resolved", actor, at, {"resolution": chosen.value})
    return case


def reopen(*, session: Session, case_id: int, at: dt.datetime, actor: str) -> MissingCase:
    """Open a resolved case again; it stays the same case, counted in the year it was first opened."""
    at = require_past("at", at)
    case = _locked(session, case_id)
    if case.status is not CaseStatus.RESOLVED or case.resolved_at is None:
        state = case.status.value
        raise Conflict(f"missing case {case.case_number} is {state}: only a resolved case can be reopened")
    require_order("resolved_at", case.resolved_at, "at", at)
    detail = {"previous_resolution": case.resolution, "previous_resolved_at": case.resolved_at.isoformat()}
    case.status = CaseStatus.OPEN
    case.resolved_at = None
    case.resolution = None
    case.reopen_count += 1
    _event(session, case, "reopened", actor, at, detail)
    return case


def add_indicator(*, session: Session, case_id: int, indicator: Indicator | str, actor: str) -> MissingCase:
    """Record an indicator and recompute ``likely_trafficking``; one already present changes nothing."""
    chosen = _enum("indicator", Indicator, indicator)
    case = _locked(session, case_id)
    if chosen.value in case.indicators:
        return case
    was_likely = case.likely_trafficking
    _set_indicators(case, [*case.indicators, chosen.value])
    detail = {"indicator": chosen.value, "likely_trafficking": case.likely_trafficking, "was": was_likely}
    _event(session, case, "indicator_added", actor, utcnow(), detail)
    return case


def timeline(*, session: Session, case_id: int) -> Sequence[CaseEvent]:
    """Every event on a case, oldest first."""
    get(session=session, case_id=case_id)
    query = sa.select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.at, CaseEvent.id)
    return session.scalars(query).all()
