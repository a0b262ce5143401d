"""Filing and processing in one pass: reports that arrive finished (bulk intake) are stored already bundled,
matched, located, prioritised, classified and released, in the transaction that files them.

A report that arrives finished has nothing left to wait for, so queueing it would only mean writing its rows,
reading them back and writing them again. Here the pipeline's own steps (`pipeline.decide`) run over the
reports in memory, and each row is written once with its final values. The rules are the pipeline's, to the
letter: the same reports give the same bundles, matches, locations, priorities and releases either way
(`tests/tipline/test_onepass.py` checks it). Crash safety is the transaction's: a chunk is on file, processed
and released entirely, or not at all, and a line is acknowledged only after the commit.

Each report gets one audit event, ``report.filed``, by the platform's actor, whose detail holds every step's
decision (what ``report.processed`` holds for a queued report); bundles opened and leads released through a
member get their events as in the pipeline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy.orm import Session

from clearinghouse.access.models import AuditEvent
from clearinghouse.db.base import table_of
from clearinghouse.db.engine import Store, take_write_lock
from clearinghouse.geo.ipgeo import IpResolver
from clearinghouse.tipline import fastsql
from clearinghouse.tipline.bundle import bundle_writes, refresh_counts
from clearinghouse.tipline.filing import FILES, REPORTS, FilingResult, PreparedReport, audit_row, fresh_reports
from clearinghouse.tipline.matching import KnownContentBanks, Matcher
from clearinghouse.tipline.models import Release
from clearinghouse.tipline.pipeline import Clock, bundle_events, decide, wall_clock
from clearinghouse.tipline.queue import QueuedFile, QueuedReport, set_content
from clearinghouse.tipline.release import ReleaseDirectory

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
"""The columns `filing.prepare` fills, in the order `ReadyReport.values` holds them."""
FILE_COLUMNS = ("filename", "kind", "size", "md5", "sha1", "sha256", "pdq", "pdq_quality", "details")
"""The file columns `filing.prepare` fills, in the order `ReadyReport.files` holds them."""
DECIDED_COLUMNS = (
    "country_code",
    "state_code",
    "location_confidence",
    "location_rule",
    "priority",
    "classification",
    "processed_at",
    "bundle_id",
)
"""The report columns the pipeline's steps set (`pipeline.decide`), in this order."""
_UPLOADED = REPORT_COLUMNS.index("received_at")


@dataclass(slots=True)
class ReadyReport:
    """A report prepared to be filed and processed in one pass: the queue's view of it (what the steps read)
    and its rows' values in stored form, so that the writer only adds ids and decisions.

    Made by `ready`, in a parsing process when there is one; ids are given by the writer.
    """

    platform_ref: str | None
    received_at: dt.datetime
    queued: QueuedReport
    values: tuple[Any, ...]
    """The report's `REPORT_COLUMNS`, converted for the database named by ``dialect``."""
    files: tuple[tuple[Any, ...], ...]
    """Each file's `FILE_COLUMNS`, converted likewise."""
    dialect: str

    def __reduce__(self) -> tuple[Any, ...]:
        # Sent back from the parsing processes by the thousand (see `queue.QueuedFile.__reduce__`).
        return (ReadyReport, (self.platform_ref, self.received_at, self.queued, self.values, self.files, self.dialect))


def ready(report: PreparedReport, dialect: str) -> ReadyReport:
    """``report`` ready for `file_and_process` on a database of ``dialect`` (a pure function: runs anywhere)."""
    row, facts = report.row, report.facts
    to_report = fastsql.values_converter(REPORTS, REPORT_COLUMNS, dialect)
    to_file = fastsql.values_converter(FILES, FILE_COLUMNS, dialect)
    queued = QueuedReport(
        id=0,
        platform_id=None,
        platform_ref=report.platform_ref,
        received_at=report.received_at,
        incident_type=row["incident_type"],
        escalated=facts.escalated,
        annotations=facts.annotations,
        clues=str(row["location_evidence"]),
        batch=facts.batch,
        child_victim=facts.child_victim,
        files=[
            QueuedFile(
                0,
                f["md5"],
                f["sha1"],
                f["sha256"],
                f["pdq"],
                f["pdq_quality"],
                frozenset(f["details"]["annotations"]) if "details" in f else frozenset(),
            )
            for f in report.files
        ],
    )
    set_content(queued)
    return ReadyReport(
        platform_ref=report.platform_ref,
        received_at=report.received_at,
        queued=queued,
        values=to_report([row[name] for name in REPORT_COLUMNS]),
        files=tuple(to_file([f.get(name) for name in FILE_COLUMNS]) for f in report.files),
        dialect=dialect,
    )


def _encoded(detail: dict[str, Any]) -> fastsql.EncodedJSON:
    # Serialised with orjson (a tenth of the standard encoder's time) and stored as it is.
    return fastsql.EncodedJSON(orjson.dumps(detail).decode())


@dataclass
class Processing:
    """How reports filed in one pass are processed: the pipeline's clock, IP database and banks (the store's
    banks: see `processing_for`; none by default).

    The agency directory is read once, at the first chunk, and kept: agencies change rarely, and a change
    applies to the next import.
    """

    clock: Clock = wall_clock
    ip_resolver: IpResolver | None = None
    banks: Sequence[Matcher] = ()
    directory: ReleaseDirectory | None = field(default=None, repr=False)


@contextmanager
def processing_for(
    store: Store, *, clock: Clock = wall_clock, ip_resolver: IpResolver | None = None
) -> Iterator[Processing]:
    """Processing as `pipeline.run` does it on ``store``: the known-content banks as the store holds them when
    the import starts (their matcher's threads are stopped at the end of the block)."""
    with store.session() as session:
        built = KnownContentBanks.from_store(session)
    try:
        yield Processing(clock=clock, ip_resolver=ip_resolver, banks=[built] if built is not None else [])
    finally:
        if built is not None:
            built.close()


def file_and_process(
    *,
    session: Session,
    platform_id: int | None,
    reports: Sequence[ReadyReport],
    actor: str,
    processing: Processing,
) -> FilingResult:
    """Store reports already through every step of the pipeline, in the caller's unit of work.

    Idempotent on the platform's report id like `filing.file_prepared`: a report on file is not stored again.
    """
    dialect = session.get_bind().dialect.name
    if any(report.dialect != dialect for report in reports):
        raise ValueError(f"reports were made ready for another database than this {dialect} store")
    # Decisions are made from what is read here: on SQLite no other writer may commit in between.
    take_write_lock(session)
    split = fresh_reports(session=session, platform_id=platform_id, reports=reports)
    fresh = split.reports
    if not fresh:
        return split.result([])
    ids = fastsql.reserve_ids(session, REPORTS, len(fresh))
    file_ids = iter(fastsql.reserve_ids(session, FILES, sum(len(report.files) for report in fresh)))
    for report_id, report in zip(ids, fresh, strict=True):
        report.queued.id, report.queued.platform_id = report_id, platform_id
        for file in report.queued.files:
            file.id = next(file_ids)
    if processing.directory is None:
        processing.directory = ReleaseDirectory.load(session)
    decisions = decide(
        session,
        [report.queued for report in fresh],
        clock=processing.clock,
        ip_resolver=processing.ip_resolver,
        banks=processing.banks,
        directory=processing.directory,
        stored=False,
    )
    to_decided = fastsql.values_converter(REPORTS, DECIDED_COLUMNS, dialect)
    report_rows = []
    file_rows = []
    seen = {row["id"]: row["previously_seen"] for row in decisions.file_rows}
    for report_id, report in zip(ids, fresh, strict=True):
        decided = decisions.updates[report_id]
        report_rows.append((report_id, platform_id, *report.values, *to_decided([decided[c] for c in DECIDED_COLUMNS])))
        uploaded = report.values[_UPLOADED]
        for number, (file, values) in enumerate(zip(report.queued.files, report.files, strict=True), start=1):
            file_rows.append((file.id, report_id, f"{report_id}-{number}", uploaded, *values, seen.get(file.id)))
    events = [
        audit_row(actor, "report.filed", report_id, report.received_at, _encoded(decisions.details[report_id]))
        for report_id, report in zip(ids, fresh, strict=True)
    ]
    plan = decisions.plan
    earlier = [{"bundle_id": b.id, "id": lead} for lead, b in plan.earlier_leads.items()]
    events += decisions.release_events + bundle_events(plan)
    # Reports first: the other rows refer to them.
    fastsql.run(
        session,
        *fastsql.prepare_insert_values(
            session, REPORTS, ("id", "platform_id", *REPORT_COLUMNS, *DECIDED_COLUMNS), report_rows
        ),
        *fastsql.prepare_insert_values(
            session, FILES, ("id", "report_id", "file_ref", "uploaded_at", *FILE_COLUMNS, "previously_seen"), file_rows
        ),
        *bundle_writes(session, plan),
        fastsql.prepare_update(session, REPORTS, earlier),
        fastsql.prepare_insert(session, table_of(Release), decisions.releases),
        fastsql.prepare_insert(session, table_of(AuditEvent), events),
    )
    refresh_counts(session, plan)
    return split.result(ids)
