"""What law enforcement may see of the tipline: releases of finished reports to jurisdictions, what is
made available to each, and the audited read (a refused read is recorded too). Keyword-only verbs; the
caller's unit of work commits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from clearinghouse.access import audit
from clearinghouse.db.base import utcnow
from clearinghouse.errors import InputError, NotFound, visible_text
from clearinghouse.geo.models import Agency, Jurisdiction
from clearinghouse.tipline.models import Bundle, Release, Report, ReportStatus
from clearinghouse.tipline.service import ReportStateError, get_report

MAX_REASON = 200
"""The longest reason a release keeps, in characters (the column's width)."""


def release_to_jurisdiction(
    *,
    session: Session,
    report_id: int,
    jurisdiction_code: str,
    agencies: Sequence[Agency],
    actor: str,
    reason: str,
    at: dt.datetime | None = None,
) -> list[Release]:
    """Make a processed report available to ``agencies`` of one jurisdiction, each once; a repeated release is a
    no-op. Refused, nothing stored: a report the pipeline has not located yet (it would reach officers without a
    location or a priority, and the pipeline may yet make it a bundle member, which is never released itself), a
    reason that could not be shown (:func:`errors.visible_text`), an agency that is inactive, not law enforcement
    or of another jurisdiction.

    A report can later be released to another jurisdiction too: each release is its own row.
    """
    now = at or utcnow()
    report = get_report(session=session, report_id=report_id)
    if report.status is not ReportStatus.FINISHED:
        raise ReportStateError(4000, f"report {report_id} is {report.status.value}; only finished reports are released")
    if report.processed_at is None:
        raise ReportStateError(
            4000, f"report {report_id} is still queued for processing; release it once the pipeline has located it"
        )
    why = visible_text("reason", reason, MAX_REASON)
    if session.get(Jurisdiction, jurisdiction_code) is None:
        raise InputError("jurisdiction", "is not a known jurisdiction code", jurisdiction_code)
    chosen = list({agency.id: agency for agency in agencies}.values())  # an agency named twice, once
    if not chosen:
        raise InputError("agencies", f"no active law-enforcement agency serves {jurisdiction_code}", jurisdiction_code)
    wrong = [a.name for a in chosen if a.jurisdiction_code != jurisdiction_code or not a.kind.is_law_enforcement]
    if wrong:
        raise InputError("agencies", f"not law-enforcement agencies of {jurisdiction_code}", wrong)
    inactive = [a.name for a in chosen if not a.active]
    if inactive:
        raise InputError("agencies", "not active", inactive)
    already = set(session.scalars(sa.select(Release.agency_id).where(Release.report_id == report_id)))
    releases = [
        Release(
            report_id=report_id,
            agency_id=agency.id,
            jurisdiction_code=jurisdiction_code,
            released_at=now,
            released_by=actor,
            reason=why,
        )
        for agency in chosen
        if agency.id not in already
    ]
    session.add_all(releases)
    if releases:
        audit.record(
            session=session,
            actor=actor,
            action="report.released",
            subject_type="report",
            subject_id=report_id,
            detail={
                "jurisdiction": jurisdiction_code,
                "agencies": [r.agency_id for r in releases],
                "reason": why,
            },
            at=now,
        )
    return releases


def visible_to_agency(*, session: Session, report_id: int, agency_id: int) -> bool:
    """Whether the report was made available to the jurisdiction of ``agency_id``, an active law-enforcement
    agency: released there itself, or a member of a bundle whose lead was (the lead stands for its bundle, and
    law enforcement sees the whole bundle through it)."""
    agency = session.get(Agency, agency_id)
    if agency is None or not agency.active or not agency.kind.is_law_enforcement:
        return False
    lead = (
        sa.select(Bundle.lead_report_id)
        .join(Report, Report.bundle_id == Bundle.id)
        .where(Report.id == report_id)
        .scalar_subquery()
    )
    query = (
        sa.select(Release.id)
        .where(
            Release.jurisdiction_code == agency.jurisdiction_code,
            sa.or_(Release.report_id == report_id, Release.report_id == lead),
        )
        .limit(1)
    )
    return session.scalar(query) is not None


@dataclass(frozen=True)
class MadeAvailable:
    """A report as first made available to one jurisdiction: the release that did it, and the report."""

    release_id: int
    released_at: dt.datetime
    report: Report


def made_available_to(
    *, session: Session, jurisdiction_code: str, after: int = 0, limit: int = 100
) -> list[MadeAvailable]:
    """The reports released to a jurisdiction, each once (at its first release there), in the order they were
    released; ``after`` is the release id to continue after (0: from the start), so an agency that polls with
    the last id it saw gets exactly what is new, however old the reports are."""
    earlier = aliased(Release)
    first_there = ~sa.exists().where(
        earlier.jurisdiction_code == Release.jurisdiction_code,
        earlier.report_id == Release.report_id,
        earlier.id < Release.id,
    )
    query = (
        sa.select(Release.id, Release.released_at, Report)
        .join(Report, Report.id == Release.report_id)
        .where(Release.jurisdiction_code == jurisdiction_code, Release.id > after, first_there)
        .order_by(Release.id)
        .limit(limit)
    )
    return [
        MadeAvailable(release_id, released_at, report) for release_id, released_at, report in session.execute(query)
    ]


def read_report(*, session: Session, report_id: int, reader: str, agency_id: int | None = None) -> Report:
    """The report for a reader; every read is recorded; law enforcement sees only its jurisdiction's reports.

    ``agency_id`` is the reader's agency when the reader is law enforcement (None for clearinghouse staff).
    A report not made available to that agency's jurisdiction is NotFound, as if it did not exist.
    """
    report = get_report(session=session, report_id=report_id)
    if agency_id is not None and not visible_to_agency(session=session, report_id=report_id, agency_id=agency_id):
        record_refused_read(session=session, report_id=report_id, reader=reader, agency_id=agency_id)
        raise NotFound("report", report_id)
    audit.record(
        session=session,
        actor=reader,
        action="report.read",
        subject_type="report",
        subject_id=report_id,
        detail={"agency": agency_id} if agency_id is not None else None,
    )
    return report


def record_refused_read(
    *,
    session: Session,
    report_id: int,
    reader: str,
    agency_id: int | None,
    reason: str | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Record that a user asked for a report they may not read: one not made available to their agency's
    jurisdiction (or that does not exist), or any, with ``reason``, when they are not law enforcement or their
    agency is inactive.

    `read_report` records it before raising NotFound; a caller whose transaction then rolls back records it again
    in a transaction of its own, so the refusal is never lost with the read."""
    detail: dict[str, object] = {"agency": agency_id}
    if reason is not None:
        detail["reason"] = reason
    audit.record(
        session=session,
        actor=reader,
        action="report.read_refused",
        subject_type="report",
        subject_id=report_id,
        detail=detail,
        at=at,
    )
