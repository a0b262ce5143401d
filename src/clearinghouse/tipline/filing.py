"""Filing many finished reports at once (bulk intake, the JSON API, the simulation), idempotent on the platform's
own report id.

Filing is two steps so that the costly one can run anywhere: `prepare` turns a validated report into the rows
to store (a pure function, safe to run in a worker process), and `file_prepared` stores them in the caller's
unit of work. Nothing is committed here: the caller commits, and only then acknowledges.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy.orm import Session

from clearinghouse.access.models import AuditEvent
from clearinghouse.db.base import table_of
from clearinghouse.tipline import clues, fastsql
from clearinghouse.tipline.fastsql import EncodedJSON
from clearinghouse.tipline.models import FileKind, IncidentType, Report, ReportFile, ReportSource, ReportStatus
from clearinghouse.tipline.priority import names_a_child
from clearinghouse.tipline.queue import IntakeFacts
from clearinghouse.tipline.wire_schemas import ReportIntake

REPORTS = table_of(Report)
FILES = table_of(ReportFile)
AUDIT_EVENTS = table_of(AuditEvent)
LOOKUP_CHUNK = 900
"""Platform ids looked up per query: under SQLite's oldest limit on bound parameters (999)."""


def clues_of(intake: ReportIntake) -> list[dict[str, object]]:
    """The report's location clues as stored for the locate step (defaults left out to keep rows small)."""
    return clues.clues_of(intake)


def body_of(intake: ReportIntake) -> EncodedJSON:
    """The intake document as stored on the report, as JSON text: made outside the write turn, where it can (by
    `prepare` for bulk filing, by the platform interface before its turn)."""
    return EncodedJSON(intake.model_dump_json(exclude_none=True, exclude_defaults=True))


def report_clues(intake: ReportIntake) -> EncodedJSON:
    """The location clues of a report's document, as the JSON text stored on the report."""
    return EncodedJSON(orjson.dumps(clues.clues_of(intake)).decode())


@dataclass(slots=True)
class FileDigest:
    """What is kept of one file: its hashes, kind and the platform's flags on it, never its content."""

    kind: FileKind
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    pdq: str | None = None
    pdq_quality: int | None = None
    size: int | None = None
    filename: str | None = None
    annotations: tuple[str, ...] = ()
    """File annotations (``potentialMeme``, ``viral``, ...), kept in the file's details."""


@dataclass(frozen=True, slots=True)
class FiledReport:
    """A complete report as a platform files it in one go (already validated)."""

    intake: ReportIntake
    received_at: dt.datetime
    platform_ref: str | None = None
    files: Sequence[FileDigest] = field(default_factory=tuple)
    source: ReportSource = ReportSource.PLATFORM


REPORT_COLUMNS = (
    "source",
    "platform_ref",
    "incident_type",
    "status",
    "opened_at",
    "last_changed_at",
    "received_at",
    "incident_at",
    "escalation_reason",
    "annotations",
    "body",
    "location_evidence",
    "file_count",
)
"""The report columns `prepare` fills, in the order of `PreparedReport.values`."""
FILE_COLUMNS = ("filename", "kind", "size", "md5", "sha1", "sha256", "pdq", "pdq_quality", "details")
"""The file columns `prepare` fills, in the order of `PreparedReport.file_values` (``details`` None when the
platform flagged nothing)."""


@dataclass(slots=True)
class PreparedReport:
    """The rows of one report, ready to insert: the report's columns (without its platform) and its files', as
    values in column order (what the bulk writer stores) and as rows (`row`, `files`)."""

    platform_ref: str | None
    received_at: dt.datetime
    values: tuple[Any, ...]
    """The `REPORT_COLUMNS`."""
    file_values: tuple[tuple[Any, ...], ...]
    """Each file's `FILE_COLUMNS`."""
    facts: IntakeFacts

    @property
    def row(self) -> dict[str, Any]:
        """The report's row, by column name."""
        return dict(zip(REPORT_COLUMNS, self.values, strict=True))

    @property
    def files(self) -> tuple[dict[str, Any], ...]:
        """The files' rows, by column name; ``details`` left out rather than None (a JSON column would store JSON
        null)."""
        return tuple(
            {name: value for name, value in zip(FILE_COLUMNS, values, strict=True) if name != "details" or value}
            for values in self.file_values
        )


@dataclass(frozen=True, slots=True)
class FilingResult:
    """What filing did with each report given, in order.

    ``report_ids[i]`` is the id of the i-th report: new, or the one already on file under its platform id
    (then ``created_flags[i]`` is False). ``created`` and ``duplicates`` are the same facts grouped.
    """

    created: list[int]
    duplicates: list[str]
    report_ids: list[int] = field(default_factory=list)
    created_flags: list[bool] = field(default_factory=list)


def file_values(digest: FileDigest) -> tuple[Any, ...]:
    """A file's `FILE_COLUMNS`."""
    details = {"annotations": list(digest.annotations)} if digest.annotations else None
    return (
        digest.filename,
        digest.kind,
        digest.size,
        digest.md5,
        digest.sha1,
        digest.sha256,
        digest.pdq,
        digest.pdq_quality,
        details,
    )


def audit_row(
    actor: str, action: str, report_id: int, at: dt.datetime, detail: dict[str, Any] | EncodedJSON | None = None
) -> dict[str, Any]:
    """An audit event about a report, as a row of the audit log (what `audit.record_many` writes, written in
    bulk with the report's own rows)."""
    row = {"at": at, "actor": actor, "action": action, "subject_type": "report", "subject_id": str(report_id)}
    if detail is not None:  # left out rather than None, which a JSON column would store as JSON null
        row["detail"] = detail
    return row


def prepare(report: FiledReport) -> PreparedReport:
    """The rows to store for ``report`` (clues computed now, so the pipeline never parses the body again)."""
    intake = report.intake
    received = report.received_at
    # JSON is serialised here, where `prepare` runs (possibly a worker process), not in the writer.
    values = (
        report.source,
        report.platform_ref,
        _INCIDENT_TYPES[intake.incident_type.value],
        ReportStatus.FINISHED,
        *(received, received, received),  # opened, last changed and received at once: it came finished
        intake.incident_at,
        intake.escalation_reason,
        EncodedJSON(orjson.dumps([str(a) for a in intake.annotations]).decode()),
        body_of(intake),
        report_clues(intake),
        len(report.files),
    )
    return PreparedReport(
        report.platform_ref,
        received,
        values,
        tuple(map(file_values, report.files)),
        facts_of(intake),
    )


_INCIDENT_TYPES = {member.value: member for member in IncidentType}


def _stored(model: Any) -> Any:
    """A part of the body as it is stored (and read back by the pipeline's queue)."""
    return model.model_dump(mode="json", exclude_none=True, exclude_defaults=True)


def facts_of(intake: ReportIntake) -> IntakeFacts:
    """What the pipeline's steps read from the body, as `queue.load_batch` would read it back."""
    victims = [_stored(victim) for victim in intake.victims]
    return IntakeFacts(
        escalated=intake.escalation_reason is not None,
        annotations=frozenset(str(a) for a in intake.annotations),
        batch=_stored(intake.batch) if intake.batch is not None else None,
        child_victim=names_a_child(victims, intake.incident_at.astimezone(dt.UTC)) if victims else False,
    )


def refs_on_file(*, session: Session, platform_id: int, refs: Sequence[str]) -> dict[str, int]:
    """Which of the platform's report ids are already on file, and as which reports."""
    found: dict[str, int] = {}
    for start in range(0, len(refs), LOOKUP_CHUNK):
        chunk = refs[start : start + LOOKUP_CHUNK]
        query = sa.select(REPORTS.c.platform_ref, REPORTS.c.id).where(
            REPORTS.c.platform_id == platform_id, fastsql.among(session, REPORTS.c.platform_ref, chunk)
        )
        found.update((ref, int(report_id)) for ref, report_id in session.execute(query) if ref is not None)
    return found


class HasRef(Protocol):
    """A report to file, as far as idempotence goes: the platform's id for it."""

    @property
    def platform_ref(self) -> str | None: ...


R = TypeVar("R", bound=HasRef)


@dataclass
class Fresh(Generic[R]):
    """Which of a call's reports are new (to store) and which are on file already, by the platform's id."""

    reports: list[R]
    positions: list[int | None]
    """Per report given: its index in ``reports``, or None when it is on file already (or earlier in the call)."""
    duplicate_of: dict[int, str]
    known: dict[str, int]
    pending: dict[str, int]

    def result(self, ids: Sequence[int]) -> FilingResult:
        """The answer, once the new reports have their ``ids``."""
        report_ids: list[int] = []
        for index, position in enumerate(self.positions):
            if position is not None:
                report_ids.append(ids[position])
            else:
                ref = self.duplicate_of[index]
                report_ids.append(self.known[ref] if ref in self.known else ids[self.pending[ref]])
        return FilingResult(
            created=list(ids),
            duplicates=[self.duplicate_of[i] for i in sorted(self.duplicate_of)],
            report_ids=report_ids,
            created_flags=[position is not None for position in self.positions],
        )


def fresh_reports(*, session: Session, platform_id: int | None, reports: Sequence[R]) -> Fresh[R]:
    """Set apart the reports whose platform id is already on file for this platform (or earlier in the call)."""
    refs = [r.platform_ref for r in reports if r.platform_ref is not None]
    known = refs_on_file(session=session, platform_id=platform_id, refs=refs) if platform_id is not None else {}
    fresh: Fresh[R] = Fresh(reports=[], positions=[], duplicate_of={}, known=known, pending={})
    for index, report in enumerate(reports):
        ref = report.platform_ref
        if ref is not None and (ref in known or ref in fresh.pending):
            fresh.positions.append(None)
            fresh.duplicate_of[index] = ref
            continue
        if ref is not None:
            fresh.pending[ref] = len(fresh.reports)
        fresh.positions.append(len(fresh.reports))
        fresh.reports.append(report)
    return fresh


def file_rows_of(report_id: int, report: PreparedReport) -> list[dict[str, Any]]:
    """The rows of a report's files, numbered within the report."""
    return [
        {**file, "report_id": report_id, "file_ref": f"{report_id}-{number}", "uploaded_at": report.received_at}
        for number, file in enumerate(report.files, start=1)
    ]


def insert_files(session: Session, rows: Sequence[dict[str, Any]]) -> list[fastsql.Prepared]:
    """Inserts of file rows. Rows with and without details go in separate statements: an executemany takes one
    set of columns, and a None in a JSON column would be stored as JSON null rather than left empty."""
    return [
        fastsql.prepare_insert(session, FILES, [row for row in rows if "details" in row]),
        fastsql.prepare_insert(session, FILES, [row for row in rows if "details" not in row]),
    ]


def file_prepared(
    *, session: Session, platform_id: int | None, reports: Sequence[PreparedReport], actor: str
) -> FilingResult:
    """Store prepared reports and their files in the caller's unit of work, each with its audit event; they wait
    in the pipeline's queue.

    A report whose platform id is already on file for this platform (or earlier in the same call) is not
    stored again: a retried batch creates no duplicate.
    """
    split = fresh_reports(session=session, platform_id=platform_id, reports=reports)
    fresh = split.reports
    ids: list[int] = []
    if fresh:
        # Not the ORM, nor even Core's executemany: at bulk volumes their per-row bookkeeping dominates the cost.
        # Every row is converted before the first one is written, so that on SQLite the write lock is held only
        # while the rows are stored (a pipeline process may be waiting for it).
        given = fastsql.next_ids(session, REPORTS, len(fresh))
        report_rows = fastsql.NOTHING
        if given is None:
            rows = [{**report.row, "platform_id": platform_id} for report in fresh]
            ids = fastsql.insert_with_ids(session, REPORTS, rows)
        else:
            ids = given
            rows = [{"id": i, **r.row, "platform_id": platform_id} for i, r in zip(ids, fresh, strict=True)]
            report_rows = fastsql.prepare_insert(session, REPORTS, rows)
        file_rows = [
            row for report_id, report in zip(ids, fresh, strict=True) for row in file_rows_of(report_id, report)
        ]
        events = [audit_row(actor, "report.filed", i, r.received_at, None) for i, r in zip(ids, fresh, strict=True)]
        fastsql.run(
            session,
            report_rows,
            *insert_files(session, file_rows),
            fastsql.prepare_insert(session, AUDIT_EVENTS, events),
        )
    return split.result(ids)


def file_reports(
    *, session: Session, platform_id: int | None, reports: Sequence[FiledReport], actor: str
) -> FilingResult:
    """Store finished reports and their file hashes in the caller's unit of work (see `file_prepared`)."""
    return file_prepared(session=session, platform_id=platform_id, reports=[prepare(r) for r in reports], actor=actor)
