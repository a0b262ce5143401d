"""Tipline records: a report's lifecycle (open, files, finished, retracted, expired), its releases to law
enforcement, and the audited read. Keyword-only verbs; the caller's unit of work commits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from clearinghouse.access import audit
from clearinghouse.db.base import utcnow
from clearinghouse.errors import Conflict, InputError, NotFound
from clearinghouse.geo.models import Agency, Jurisdiction
from clearinghouse.tipline.models import (
    FileKind,
    IncidentType,
    Release,
    Report,
    ReportFile,
    ReportSource,
    ReportStatus,
)

OPEN_REPORT_LIFETIME = dt.timedelta(hours=24)
"""An unfinished report lives at least this long after it was opened ..."""
OPEN_REPORT_IDLE = dt.timedelta(hours=1)
"""... and at least this long after its last change; whichever is later."""


class ReportStateError(Conflict):
    """A lifecycle step the report's status does not allow; carries the interface's response code."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        super().__init__(message)


def expires_at(report: Report) -> dt.datetime:
    """When an open report is deleted if not finished: 24 h after opening or 1 h after the last change."""
    return max(report.opened_at + OPEN_REPORT_LIFETIME, report.last_changed_at + OPEN_REPORT_IDLE)


def open_report(
    *,
    session: Session,
    incident_type: IncidentType,
    source: ReportSource,
    body: dict[str, Any],
    actor: str,
    platform_id: int | None = None,
    platform_ref: str | None = None,
    incident_at: dt.datetime | None = None,
    escalation_reason: str | None = None,
    annotations: Sequence[str] = (),
    at: dt.datetime | None = None,
) -> Report:
    """Open a new report (not yet filed: it must be finished to count)."""
    now = at or utcnow()
    report = Report(
        source=source,
        platform_id=platform_id,
        platform_ref=platform_ref,
        incident_type=incident_type,
        status=ReportStatus.OPEN,
        opened_at=now,
        last_changed_at=now,
        incident_at=incident_at,
        escalation_reason=escalation_reason,
        annotations=list(annotations),
        body=body,
    )
    session.add(report)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="report.opened",
        subject_type="report",
        subject_id=report.id,
        at=now,
    )
    return report


def get_report(*, session: Session, report_id: int) -> Report:
    """The report, or NotFound."""
    report = session.get(Report, report_id)
    if report is None:
        raise NotFound("report", report_id)
    return report


def _require_open(report: Report, *, now: dt.datetime) -> None:
    if report.status is ReportStatus.RETRACTED:
        raise ReportStateError(5101, f"report {report.id} was retracted")
    if report.status is ReportStatus.FINISHED:
        raise ReportStateError(5102, f"report {report.id} is already finished")
    if report.status is ReportStatus.EXPIRED or now > expires_at(report):
        raise ReportStateError(5001, f"report {report.id} expired unfinished at {expires_at(report).isoformat()}")


def add_file(
    *,
    session: Session,
    report_id: int,
    actor: str,
    kind: FileKind,
    md5: str | None = None,
    sha1: str | None = None,
    sha256: str | None = None,
    pdq: str | None = None,
    pdq_quality: int | None = None,
    size: int | None = None,
    filename: str | None = None,
    at: dt.datetime | None = None,
) -> ReportFile:
    """Attach one file's hashes to an open report (the content itself is never given to this function)."""
    now = at or utcnow()
    report = get_report(session=session, report_id=report_id)
    _require_open(report, now=now)
    report.file_count += 1
    report.last_changed_at = now
    file = ReportFile(
        report_id=report.id,
        file_ref=f"{report.id}-{report.file_count}",
        filename=filename,
        kind=kind,
        size=size,
        md5=md5,
        sha1=sha1,
        sha256=sha256,
        pdq=pdq,
        pdq_quality=pdq_quality,
        uploaded_at=now,
    )
    session.add(file)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="report.file_added",
        subject_type="report",
        subject_id=report.id,
        detail={"file": file.file_ref},
        at=now,
    )
    return file


def set_file_details(
    *,
    session: Session,
    report_id: int,
    file_ref: str,
    details: dict[str, Any],
    actor: str,
    at: dt.datetime | None = None,
) -> ReportFile:
    """Record the platform's description of one file (hashes, annotations, classification)."""
    now = at or utcnow()
    report = get_report(session=session, report_id=report_id)
    _require_open(report, now=now)
    file = session.scalar(
        sa.select(ReportFile).where(ReportFile.report_id == report_id, ReportFile.file_ref == file_ref)
    )
    if file is None:
        raise NotFound("file", file_ref)
    file.details = details
    report.last_changed_at = now
    audit.record(
        session=session,
        actor=actor,
        action="report.file_described",
        subject_type="report",
        subject_id=report.id,
        detail={"file": file_ref},
        at=now,
    )
    return file


def finish_report(*, session: Session, report_id: int, actor: str, at: dt.datetime | None = None) -> Report:
    """File the report, irreversibly: from now on it is received and goes through the pipeline."""
    now = at or utcnow()
    report = get_report(session=session, report_id=report_id)
    _require_open(report, now=now)
    report.status = ReportStatus.FINISHED
    report.received_at = now
    report.last_changed_at = now
    audit.record(
        session=session,
        actor=actor,
        action="report.finished",
        subject_type="report",
        subject_id=report.id,
        at=now,
    )
    return report


def retract_report(*, session: Session, report_id: int, actor: str, at: dt.datetime | None = None) -> Report:
    """Cancel an open report; it is kept as retracted and never counted."""
    now = at or utcnow()
    report = get_report(session=session, report_id=report_id)
    _require_open(report, now=now)
    report.status = ReportStatus.RETRACTED
    report.retracted_at = now
    report.last_changed_at = now
    audit.record(
        session=session,
        actor=actor,
        action="report.retracted",
        subject_type="report",
        subject_id=report.id,
        at=now,
    )
    return report


def expire_stale(*, session: Session, now: dt.datetime | None = None) -> int:
    """Mark open reports past their lifetime as expired (and drop their file rows); returns how many."""
    now = now or utcnow()
    candidates = session.scalars(
        sa.select(Report).where(Report.status == ReportStatus.OPEN, Report.opened_at < now - OPEN_REPORT_IDLE)
    ).all()
    expired = [report for report in candidates if now > expires_at(report)]
    for report in expired:
        report.status = ReportStatus.EXPIRED
        report.last_changed_at = now
        session.execute(sa.delete(ReportFile).where(ReportFile.report_id == report.id))
    audit.record_many(
        session=session,
        rows=[
            {
                "actor": audit.SYSTEM,
                "action": "report.expired",
                "subject_type": "report",
                "subject_id": r.id,
                "at": now,
            }
            for r in expired
        ],
    )
    return len(expired)


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
    """Make a finished report available to ``agencies`` of one jurisdiction; a repeated release is a no-op.

    A report can later be released to another jurisdiction too: each release is its own row.
    """
    now = at or utcnow()
    report = get_report(session=session, report_id=report_id)
    if report.status is not ReportStatus.FINISHED:
        raise ReportStateError(4000, f"report {report_id} is {report.status.value}; only finished reports are released")
    if session.get(Jurisdiction, jurisdiction_code) is None:
        raise InputError("jurisdiction", "is not a known jurisdiction code", jurisdiction_code)
    if not agencies:
        raise InputError("agencies", f"no law-enforcement agency serves {jurisdiction_code}", jurisdiction_code)
    wrong = [a.name for a in agencies if a.jurisdiction_code != jurisdiction_code or not a.kind.is_law_enforcement]
    if wrong:
        raise InputError("agencies", f"not law-enforcement agencies of {jurisdiction_code}", wrong)
    already = set(session.scalars(sa.select(Release.agency_id).where(Release.report_id == report_id)))
    releases = [
        Release(
            report_id=report_id,
            agency_id=agency.id,
            jurisdiction_code=jurisdiction_code,
            released_at=now,
            released_by=actor,
            reason=reason,
        )
        for agency in agencies
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
                "reason": reason,
            },
            at=now,
        )
    return releases


def releases_of(*, session: Session, report_id: int) -> list[Release]:
    """Every release of a report, oldest first."""
    query = sa.select(Release).where(Release.report_id == report_id).order_by(Release.released_at, Release.id)
    return list(session.scalars(query))


def visible_to_agency(*, session: Session, report_id: int, agency_id: int) -> bool:
    """Whether the report was made available to the jurisdiction of ``agency_id`` (what it may see)."""
    agency = session.get(Agency, agency_id)
    if agency is None:
        return False
    query = (
        sa.select(sa.func.count())
        .select_from(Release)
        .where(Release.report_id == report_id, Release.jurisdiction_code == agency.jurisdiction_code)
    )
    return bool(session.scalar(query))


def read_report(*, session: Session, report_id: int, reader: str, agency_id: int | None = None) -> Report:
    """The report for a reader; every read is recorded; law enforcement sees only its jurisdiction's reports.

    ``agency_id`` is the reader's agency when the reader is law enforcement (None for clearinghouse staff).
    A report not made available to that agency's jurisdiction is NotFound, as if it did not exist.
    """
    report = get_report(session=session, report_id=report_id)
    if agency_id is not None and not visible_to_agency(session=session, report_id=report_id, agency_id=agency_id):
        audit.record(
            session=session,
            actor=reader,
            action="report.read_refused",
            subject_type="report",
            subject_id=report_id,
            detail={"agency": agency_id},
        )
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


def list_reports(
    *,
    session: Session,
    status: ReportStatus | None = None,
    jurisdiction_code: str | None = None,
    received_from: dt.datetime | None = None,
    received_to: dt.datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Report]:
    """Reports, newest first; with ``jurisdiction_code`` only those released to it."""
    query = sa.select(Report).order_by(Report.id.desc()).limit(limit).offset(offset)
    if status is not None:
        query = query.where(Report.status == status)
    if jurisdiction_code is not None:
        released = sa.select(Release.report_id).where(Release.jurisdiction_code == jurisdiction_code)
        query = query.where(Report.id.in_(released))
    if received_from is not None:
        query = query.where(Report.received_at >= received_from)
    if received_to is not None:
        query = query.where(Report.received_at < received_to)
    return list(session.scalars(query))


def ids_of(reports: Iterable[Report]) -> list[int]:
    """The ids of ``reports``."""
    return [report.id for report in reports]
