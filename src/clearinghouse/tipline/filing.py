"""Filing many finished reports at once (bulk intake and the simulation), idempotent on the platform's id."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from clearinghouse.access import audit
from clearinghouse.db.base import table_of
from clearinghouse.tipline.evidence import to_locate_evidence
from clearinghouse.tipline.models import FileKind, IncidentType, Report, ReportFile, ReportSource, ReportStatus
from clearinghouse.tipline.wire_schemas import ReportIntake

REPORTS = table_of(Report)
FILES = table_of(ReportFile)


def clues_of(intake: ReportIntake) -> list[dict[str, object]]:
    """The report's location clues as stored for the locate step (defaults left out to keep rows small)."""
    return [
        item.model_dump(mode="json", exclude_defaults=True) for item in to_locate_evidence(intake.location_evidence())
    ]


@dataclass(frozen=True, slots=True)
class FileDigest:
    """What is kept of one file: its hashes and kind, never its content."""

    kind: FileKind
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    pdq: str | None = None
    pdq_quality: int | None = None
    size: int | None = None
    filename: str | None = None


@dataclass(frozen=True, slots=True)
class FiledReport:
    """A complete report as a platform files it in one go (already validated)."""

    intake: ReportIntake
    received_at: dt.datetime
    platform_ref: str | None = None
    files: Sequence[FileDigest] = field(default_factory=tuple)
    source: ReportSource = ReportSource.PLATFORM


@dataclass(frozen=True, slots=True)
class FilingResult:
    """Ids of the reports created, and the platform ids already on file (nothing created for them)."""

    created: list[int]
    duplicates: list[str]


def file_reports(
    *, session: Session, platform_id: int | None, reports: Sequence[FiledReport], actor: str
) -> FilingResult:
    """Store finished reports and their file hashes in the caller's unit of work.

    A report whose platform id is already on file for this platform (or earlier in the same batch) is not
    stored again: a retried batch creates no duplicate.
    """
    refs = [r.platform_ref for r in reports if r.platform_ref is not None]
    known: set[str] = set()
    if refs and platform_id is not None:
        for start in range(0, len(refs), 900):
            chunk = refs[start : start + 900]
            query = sa.select(Report.platform_ref).where(
                Report.platform_id == platform_id, Report.platform_ref.in_(chunk)
            )
            known.update(ref for ref in session.scalars(query) if ref is not None)
    fresh: list[FiledReport] = []
    duplicates: list[str] = []
    for report in reports:
        if report.platform_ref is not None:
            if report.platform_ref in known:
                duplicates.append(report.platform_ref)
                continue
            known.add(report.platform_ref)
        fresh.append(report)
    if not fresh:
        return FilingResult(created=[], duplicates=duplicates)
    rows = [
        {
            "source": report.source,
            "platform_id": platform_id,
            "platform_ref": report.platform_ref,
            "incident_type": IncidentType(report.intake.incident_type.value),
            "status": ReportStatus.FINISHED,
            "opened_at": report.received_at,
            "last_changed_at": report.received_at,
            "received_at": report.received_at,
            "incident_at": report.intake.incident_at,
            "escalation_reason": report.intake.escalation_reason,
            "annotations": [str(a) for a in report.intake.annotations],
            "body": report.intake.model_dump(mode="json", exclude_none=True, exclude_defaults=True),
            "location_evidence": clues_of(report.intake),
            "file_count": len(report.files),
        }
        for report in fresh
    ]
    # Core statements, not the ORM: at bulk volumes the ORM's per-row bookkeeping dominates the cost.
    statement = sa.insert(REPORTS).returning(REPORTS.c.id, sort_by_parameter_order=True)
    ids = [int(row[0]) for row in session.execute(statement, rows)]
    file_rows = [
        {
            "report_id": report_id,
            "file_ref": f"{report_id}-{index}",
            "filename": digest.filename,
            "kind": digest.kind,
            "size": digest.size,
            "md5": digest.md5,
            "sha1": digest.sha1,
            "sha256": digest.sha256,
            "pdq": digest.pdq,
            "pdq_quality": digest.pdq_quality,
            "uploaded_at": report.received_at,
        }
        for report_id, report in zip(ids, fresh, strict=True)
        for index, digest in enumerate(report.files, start=1)
    ]
    if file_rows:
        session.execute(sa.insert(FILES), file_rows)
    audit.record_many(
        session=session,
        rows=[
            {
                "actor": actor,
                "action": "report.filed",
                "subject_type": "report",
                "subject_id": i,
                "at": r.received_at,
            }
            for i, r in zip(ids, fresh, strict=True)
        ],
    )
    return FilingResult(created=ids, duplicates=duplicates)
