"""The pipeline's queue: finished reports not yet processed, loaded with exactly what the steps read.

The queue is not a separate table: it is the finished reports whose ``processed_at`` is empty (an index
covers the look-up). Loading reads the stored clues as text (they are the locate cache's key) and only the
two small parts of the body the steps need (the platform's batch and the victim section), so no report
body is parsed whole.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from clearinghouse.tipline.models import IncidentType, Report, ReportFile, ReportStatus
from clearinghouse.tipline.priority import CONTACT_OFFENCES, HIGH_ANNOTATIONS, URGENT_ANNOTATIONS, names_a_child

if TYPE_CHECKING:
    from clearinghouse.tipline.locate import LocationDecision

LOOKUP_CHUNK = 900


@dataclass(slots=True)
class QueuedFile:
    """One file of a queued report."""

    id: int
    md5: str | None
    sha1: str | None
    sha256: str | None
    pdq: str | None
    pdq_quality: int | None
    annotations: frozenset[str]


@dataclass(frozen=True, slots=True)
class IntakeFacts:
    """What the steps read from a report's body, taken when it is filed (`filing.prepare`), so that a report
    filed and processed in one pass (`onepass`) is never read back: the same values `load_batch` reads."""

    escalated: bool
    annotations: frozenset[str]
    batch: dict[str, Any] | None
    child_victim: bool


@dataclass(slots=True)
class QueuedReport:
    """A report waiting for the pipeline, with the facts its steps need."""

    id: int
    platform_id: int | None
    platform_ref: str | None
    received_at: dt.datetime
    incident_type: IncidentType
    escalated: bool
    annotations: frozenset[str]
    clues: str
    """The stored clues, as stored (JSON text)."""
    batch: dict[str, Any] | None
    child_victim: bool
    files: list[QueuedFile] = field(default_factory=list)
    md5s: tuple[str, ...] = ()
    """The distinct MD5s of its files, sorted; empty if any file lacks one (its content is then unknown)."""
    content: str | None = None
    """The key of that set of contents (`content_key`), None when ``md5s`` is empty."""
    located: LocationDecision | None = None
    """The locate step's decision when it was made ahead (`onepass.ready`, outside the store's write turn);
    None otherwise, and the step decides from ``clues``."""

    @property
    def individually_urgent(self) -> bool:
        """Something about this report alone asks for its own handling: it is never folded into a bundle."""
        return individually_urgent(
            escalated=self.escalated,
            annotations=self.annotations,
            child_victim=self.child_victim,
            incident_type=self.incident_type,
        )

    @property
    def grouped_refs(self) -> list[str]:
        """The platform ids a ``batchedReport`` lists, with the report's own: empty when it lists none."""
        if self.batch is None:
            return []
        listed = self.batch.get("grouped_report_ids") or []
        refs = {str(ref) for ref in listed if isinstance(ref, str | int)}
        if refs and self.platform_ref is not None:
            refs.add(self.platform_ref)
        return sorted(refs)


def individually_urgent(
    *, escalated: bool, annotations: frozenset[str], child_victim: bool, incident_type: IncidentType
) -> bool:
    """An escalation request, a sextortion, sadistic-exploitation or solicitation annotation, a child in the
    victim section, or a contact offence: reasons to handle a report on its own, never through a bundle."""
    return (
        escalated
        or bool(annotations & (URGENT_ANNOTATIONS | HIGH_ANNOTATIONS))
        or child_victim
        or incident_type in CONTACT_OFFENCES
    )


_EMPTY: dict[str | bytes, Any] = {"null": None, "[]": [], "{}": {}}


def decode_json(value: object) -> Any:
    """A JSON fragment as returned by the driver: text on SQLite, already decoded on PostgreSQL."""
    if value is None:
        return None
    if not isinstance(value, str | bytes):
        return value
    if value in _EMPTY:  # most parts looked up are absent or empty: skip the parser
        return _EMPTY[value]
    return json.loads(value)


def _aware(value: object) -> dt.datetime | None:
    """A stored timestamp read raw (text on SQLite, a datetime on PostgreSQL) as an aware UTC datetime."""
    if value is None:
        return None
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(moment, dt.datetime)
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _raw(column: Any) -> Any:
    """The column as the driver gives it: at batch sizes SQLAlchemy's per-value result processing shows."""
    return sa.type_coerce(column, sa.String)


def load_batch(session: Session, *, limit: int) -> list[QueuedReport]:
    """Up to ``limit`` queued reports, oldest id first, with their files."""
    body = Report.__table__.c.body
    query = (
        sa.select(
            Report.id,
            Report.platform_id,
            Report.platform_ref,
            _raw(Report.received_at),
            _raw(Report.incident_type),
            Report.escalation_reason.is_not(None),
            sa.cast(Report.annotations, sa.Text),
            sa.cast(Report.location_evidence, sa.Text),
            sa.cast(body["batch"], sa.Text),
            sa.cast(body["victims"], sa.Text),
            _raw(Report.incident_at),
        )
        .where(Report.status == ReportStatus.FINISHED, Report.processed_at.is_(None))
        .order_by(Report.id)
        .limit(limit)
        # PostgreSQL: the rows are locked for the batch (workers also take turns: see `engine.take_write_lock`).
        .with_for_update(skip_locked=True, of=Report.__table__)
    )
    reports: list[QueuedReport] = []
    for row in session.execute(query):
        victims = decode_json(row[9])
        reports.append(
            QueuedReport(
                id=row[0],
                platform_id=row[1],
                platform_ref=row[2],
                received_at=_aware(row[3]) or dt.datetime.now(dt.UTC),
                incident_type=IncidentType[row[4]],  # stored by name
                escalated=bool(row[5]),
                annotations=frozenset(decode_json(row[6]) or ()),
                clues=row[7] if row[7] not in (None, "null") else "[]",
                batch=decode_json(row[8]),
                child_victim=names_a_child(victims, _aware(row[10])) if victims else False,
            )
        )
    attach_files(session, reports)
    return reports


def attach_files(session: Session, reports: Sequence[QueuedReport]) -> None:
    """Load the files of ``reports`` onto them."""
    by_id = {report.id: report for report in reports}
    ids = sorted(by_id)
    columns = (ReportFile.id, ReportFile.report_id, ReportFile.md5, ReportFile.sha1, ReportFile.sha256)
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start : start + LOOKUP_CHUNK]
        query = (
            sa.select(
                *columns, ReportFile.pdq, ReportFile.pdq_quality, sa.cast(ReportFile.details["annotations"], sa.Text)
            )
            .where(ReportFile.report_id.in_(chunk))
            .order_by(ReportFile.id)
        )
        for file_id, report_id, md5, sha1, sha256, pdq, quality, flags in session.execute(query):
            by_id[report_id].files.append(
                QueuedFile(file_id, md5, sha1, sha256, pdq, quality, frozenset(decode_json(flags) or ()))
            )
    for report in reports:
        set_content(report)


def set_content(report: QueuedReport) -> None:
    """Work out the report's ``md5s`` and ``content`` from its files."""
    md5s = [f.md5 for f in report.files]
    if md5s and None not in md5s:
        report.md5s = tuple(sorted({md5 for md5 in md5s if md5 is not None}))
        report.content = content_key(report.md5s)


def content_key(md5s: Sequence[str]) -> str:
    """The key of a set of files' contents: SHA-256 of their sorted, distinct MD5s."""
    return hashlib.sha256(",".join(sorted(set(md5s))).encode()).hexdigest()
