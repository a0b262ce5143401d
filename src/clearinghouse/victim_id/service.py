"""Victim identification: the lifecycle of law-enforcement submissions, series of imagery and identifications.

A submission is received, optionally put in review, then reviewed (once: the completion time is what the state
sheet counts) or withdrawn by its agency. Receiving is idempotent on (agency, case number). A series is tracked
until an identification names it, which marks it identified. Matching a submission's hashes against series is
not done here.

Every function adds to the caller's unit of work and never commits; on any error nothing has been added.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from clearinghouse.access import audit
from clearinghouse.db.base import utcnow
from clearinghouse.errors import Conflict, InputError, NotFound, require_aware, require_order, require_past
from clearinghouse.geo import service as geo_service
from clearinghouse.geo.jurisdictions import UnknownJurisdiction, find_state
from clearinghouse.geo.models import Agency
from clearinghouse.hashing.models import BankEntry, HashBank
from clearinghouse.validation import check_page as _check_page
from clearinghouse.validation import coerce_enum as _enum
from clearinghouse.validation import require_row
from clearinghouse.victim_id.models import (
    SERIES_BANK,
    Identification,
    Series,
    SeriesStatus,
    Submission,
    SubmissionStatus,
)
from clearinghouse.victim_id.schemas import IdentificationCreate, SeriesCreate, SubmissionCreate

SUBMISSION = "vid_submission"
SERIES = "vid_series"
IDENTIFICATION = "vid_identification"
MAX_PAGE = 1000
UNREVIEWED = (SubmissionStatus.RECEIVED, SubmissionStatus.IN_REVIEW)

E = TypeVar("E", bound=enum.Enum)


def _jurisdiction_code(session: Session, field: str, given: str) -> str:
    # Submitting agencies include the FED and INTL liaisons, so their codes are accepted beside state names.
    try:
        code = find_state(given).code
    except UnknownJurisdiction:
        code = given.strip().upper()
    if geo_service.get_jurisdiction(session=session, code=code) is None:
        raise InputError(field, "expected a state name or a jurisdiction code in the directory", given)
    return code


def _audit(session: Session, actor: str, action: str, subject: str, subject_id: int, detail: dict[str, Any]) -> None:
    audit.record(
        session=session, actor=actor, action=action, subject_type=subject, subject_id=subject_id, detail=detail
    )


def receive_submission(*, session: Session, data: SubmissionCreate, actor: str) -> Submission:
    """Receive a law-enforcement submission; the same agency and case number again returns the stored one."""
    submission, new = find_or_add_submission(session=session, data=data)
    if new:
        record_received(session=session, submission=submission, actor=actor)
    return submission


def find_or_add_submission(*, session: Session, data: SubmissionCreate) -> tuple[Submission, bool]:
    """The agency's submission under this case number, added when there is none (then True), its reception not yet
    audited: `record_received` does it once its files are counted."""
    submitted_at = require_past("submitted_at", data.submitted_at) if data.submitted_at is not None else utcnow()
    agency = session.get(Agency, data.agency_id)
    if agency is None:
        raise InputError("agency_id", "no agency has this id", data.agency_id)
    if not agency.kind.is_law_enforcement:
        problem = f"expected a law-enforcement agency, {agency.name!r} is {agency.kind.value}"
        raise InputError("agency_id", problem, agency.id)
    if not agency.active:
        raise InputError("agency_id", f"agency {agency.name!r} is inactive", agency.id)
    query = sa.select(Submission).where(Submission.agency_id == agency.id, Submission.case_number == data.case_number)
    existing = session.scalars(query).first()
    if existing is not None:
        return existing, False
    submission = Submission(
        agency_id=agency.id,
        case_number=data.case_number,
        submitted_at=submitted_at,
        status=SubmissionStatus.RECEIVED,
        file_count=data.file_count,
    )
    session.add(submission)
    session.flush()
    return submission, True


def record_received(*, session: Session, submission: Submission, actor: str) -> None:
    """The audit event of a submission received, with its number of files."""
    detail = {
        "agency_id": submission.agency_id,
        "case_number": submission.case_number,
        "file_count": submission.file_count,
    }
    _audit(session, actor, "received", SUBMISSION, submission.id, detail)


def get_submission(*, session: Session, submission_id: int) -> Submission:
    """The submission with this id."""
    submission = require_row(session, Submission, submission_id, "submission")
    return submission


def _locked_submission(session: Session, submission_id: int) -> Submission:
    # Row lock on PostgreSQL so two concurrent transitions cannot both pass the status check.
    submission = require_row(session, Submission, submission_id, "submission", lock=True)
    return submission


def start_review(*, session: Session, submission_id: int, at: dt.datetime, actor: str) -> Submission:
    """Put a received submission in review."""
    at = require_past("at", at)
    submission = _locked_submission(session, submission_id)
    if submission.status is not SubmissionStatus.RECEIVED:
        raise Conflict(f"submission {submission.id} is {submission.status.value}; only a received one enters review")
    require_order("submitted_at", submission.submitted_at, "at", at)
    submission.status = SubmissionStatus.IN_REVIEW
    submission.review_started_at = at
    _audit(session, actor, "review_started", SUBMISSION, submission.id, {"at": at.isoformat()})
    return submission


def complete_review(*, session: Session, submission_id: int, at: dt.datetime, actor: str) -> Submission:
    """Complete the review of a submission (once); a review never started is taken to start and end at ``at``."""
    at = require_past("at", at)
    submission = _locked_submission(session, submission_id)
    if submission.status not in UNREVIEWED:
        raise Conflict(f"submission {submission.id} is already {submission.status.value}")
    if submission.review_started_at is not None:
        require_order("review_started_at", submission.review_started_at, "at", at)
    else:
        require_order("submitted_at", submission.submitted_at, "at", at)
        submission.review_started_at = at
    submission.status = SubmissionStatus.REVIEWED
    submission.review_completed_at = at
    _audit(session, actor, "review_completed", SUBMISSION, submission.id, {"at": at.isoformat()})
    return submission


def withdraw(
    *, session: Session, submission_id: int, at: dt.datetime, actor: str, reason: str | None = None
) -> Submission:
    """Record that the agency withdrew a submission whose review has not completed."""
    at = require_past("at", at)
    submission = _locked_submission(session, submission_id)
    if submission.status not in UNREVIEWED:
        raise Conflict(f"submission {submission.id} is already {submission.status.value}")
    require_order("submitted_at", submission.submitted_at, "at", at)
    submission.status = SubmissionStatus.WITHDRAWN
    _audit(session, actor, "withdrawn", SUBMISSION, submission.id, {"at": at.isoformat(), "reason": reason})
    return submission


def list_submissions(
    *,
    session: Session,
    agency_id: int | None = None,
    state_code: str | None = None,
    status: SubmissionStatus | str | None = None,
    reviewed_from: dt.datetime | None = None,
    reviewed_to: dt.datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[Submission]:
    """Submissions, filtered (``state_code`` is the agency's); review completion in [from, to); oldest first."""
    _check_page(limit, offset)
    query = sa.select(Submission)
    if agency_id is not None:
        query = query.where(Submission.agency_id == agency_id)
    if state_code is not None:
        code = _jurisdiction_code(session, "state_code", state_code)
        query = query.join(Agency, Agency.id == Submission.agency_id).where(Agency.jurisdiction_code == code)
    if status is not None:
        query = query.where(Submission.status == _enum("status", SubmissionStatus, status))
    if reviewed_from is not None:
        query = query.where(Submission.review_completed_at >= require_aware("reviewed_from", reviewed_from))
    if reviewed_to is not None:
        query = query.where(Submission.review_completed_at < require_aware("reviewed_to", reviewed_to))
    query = query.order_by(Submission.submitted_at, Submission.id).limit(limit).offset(offset)
    return session.scalars(query).all()


def open_series(*, session: Session, data: SeriesCreate, actor: str = audit.SYSTEM) -> Series:
    """Open a series under a new code; a code already in use is a Conflict."""
    opened_at = require_past("opened_at", data.opened_at) if data.opened_at is not None else utcnow()
    if session.scalars(sa.select(Series.id).where(Series.code == data.code)).first() is not None:
        raise Conflict(f"series code {data.code!r} is already in use")
    series = Series(code=data.code, status=SeriesStatus.TRACKED, opened_at=opened_at)
    session.add(series)
    session.flush()
    _audit(session, actor, "opened", SERIES, series.id, {"code": data.code, "opened_at": opened_at.isoformat()})
    return series


def get_series(*, session: Session, series_id: int) -> Series:
    """The series with this id."""
    series = require_row(session, Series, series_id, "series")
    return series


def get_series_by_code(*, session: Session, code: str) -> Series:
    """The series with this code."""
    series = session.scalars(sa.select(Series).where(Series.code == code.strip())).first()
    if series is None:
        raise NotFound("series", code)
    return series


def list_series(
    *, session: Session, status: SeriesStatus | str | None = None, limit: int = 100, offset: int = 0
) -> Sequence[Series]:
    """Series, optionally of one status, oldest first."""
    _check_page(limit, offset)
    query = sa.select(Series)
    if status is not None:
        query = query.where(Series.status == _enum("status", SeriesStatus, status))
    return session.scalars(query.order_by(Series.opened_at, Series.id).limit(limit).offset(offset)).all()


def record_identification(*, session: Session, data: IdentificationCreate, actor: str = audit.SYSTEM) -> Identification:
    """Record a child's identification under a new reference, and mark its series identified. The child cannot
    have been identified from a series before the series was opened."""
    identified_at = require_past("identified_at", data.identified_at)
    series = None
    if data.series_id is not None:
        series = session.get(Series, data.series_id, with_for_update=True)
        if series is None:
            raise InputError("series_id", "no series has this id", data.series_id)
        if identified_at < series.opened_at:
            problem = f"comes before series {series.code!r} was opened ({series.opened_at.isoformat()})"
            raise InputError("identified_at", problem, identified_at.isoformat())
    if data.identifying_agency_id is not None and session.get(Agency, data.identifying_agency_id) is None:
        raise InputError("identifying_agency_id", "no agency has this id", data.identifying_agency_id)
    query = sa.select(Identification.id).where(Identification.reference == data.reference)
    if session.scalars(query).first() is not None:
        raise Conflict(f"identification reference {data.reference!r} is already recorded")
    identification = Identification(
        reference=data.reference,
        identified_at=identified_at,
        series_id=data.series_id,
        identifying_agency_id=data.identifying_agency_id,
    )
    session.add(identification)
    session.flush()
    detail = {"reference": data.reference, "series_id": data.series_id, "identified_at": identified_at.isoformat()}
    _audit(session, actor, "recorded", IDENTIFICATION, identification.id, detail)
    if series is not None and series.status is not SeriesStatus.IDENTIFIED:
        series.status = SeriesStatus.IDENTIFIED
        marked = _mark_bank_identified(session, series.code)
        detail = {"identification_id": identification.id, "bank": SERIES_BANK, "bank_entries_marked": marked}
        _audit(session, actor, "identified", SERIES, series.id, detail)
    return identification


def _mark_bank_identified(session: Session, code: str) -> int:
    """Mark the clearinghouse's own series bank's entries of series `code` as showing an identified child, so
    that the bank says so where it is exported; returns how many changed. Other banks' flags are their sources'
    to set. (The review decides from the series' status, not from this flag.)"""
    bank_id = sa.select(HashBank.id).where(HashBank.name == SERIES_BANK).scalar_subquery()
    statement = (
        sa.update(BankEntry)
        .where(BankEntry.bank_id == bank_id, BankEntry.series == code, BankEntry.victim_identified.is_not(True))
        .values(victim_identified=True)
        .execution_options(synchronize_session=False)
    )
    changed: int = session.execute(statement).rowcount  # type: ignore[attr-defined]
    return changed


def get_identification(*, session: Session, identification_id: int) -> Identification:
    """The identification with this id."""
    identification = require_row(session, Identification, identification_id, "identification")
    return identification


def list_identifications(
    *,
    session: Session,
    series_id: int | None = None,
    identified_from: dt.datetime | None = None,
    identified_to: dt.datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[Identification]:
    """Identifications, filtered; ``identified_from`` inclusive, ``identified_to`` exclusive; oldest first."""
    _check_page(limit, offset)
    query = sa.select(Identification)
    if series_id is not None:
        query = query.where(Identification.series_id == series_id)
    if identified_from is not None:
        query = query.where(Identification.identified_at >= require_aware("identified_from", identified_from))
    if identified_to is not None:
        query = query.where(Identification.identified_at < require_aware("identified_to", identified_to))
    query = query.order_by(Identification.identified_at, Identification.id).limit(limit).offset(offset)
    return session.scalars(query).all()
