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
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.orm import Session

from clearinghouse.access.models import AuditEvent
from clearinghouse.db.base import table_of
from clearinghouse.db.engine import Store, take_write_lock
from clearinghouse.geo.ipgeo import IpResolver, MaxMindResolver
from clearinghouse.tipline import fastsql
from clearinghouse.tipline.bundle import bundle_writes, refresh_counts
from clearinghouse.tipline.filing import (
    FILE_COLUMNS,
    FILES,
    REPORT_COLUMNS,
    REPORTS,
    FilingResult,
    PreparedReport,
    fresh_reports,
)
from clearinghouse.tipline.matching import KnownContentBanks, Matcher
from clearinghouse.tipline.models import Release
from clearinghouse.tipline.pipeline import Clock, bundle_events, decide, decide_stored, wall_clock
from clearinghouse.tipline.queue import QueuedFile, QueuedReport, set_content
from clearinghouse.tipline.release import ReleaseDirectory

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
"""The report columns the pipeline's steps set (`pipeline.decide`), in the order `file_and_process` assembles
them."""
_UPLOADED = REPORT_COLUMNS.index("received_at")
_CLUES = REPORT_COLUMNS.index("location_evidence")
_INCIDENT_TYPE = REPORT_COLUMNS.index("incident_type")
RELEASES = table_of(Release)
RELEASE_COLUMNS = ("report_id", "agency_id", "jurisdiction_code", "released_at", "released_by", "reason")
AUDIT_EVENTS = table_of(AuditEvent)
EVENT_COLUMNS = ("at", "actor", "action", "subject_type", "subject_id", "detail")
BULK_SQLITE_SETTINGS = ("wal_autocheckpoint=50000",)
"""The SQLite connection of a bulk import checkpoints its WAL every 200 MB rather than 4 MB. A chunk commits
several MB, and once the store is large its rows land on pages all over the file (the indexes on platform ids
and MD5s take random keys): a page written by several chunks is copied into the database once per checkpoint,
and fewer checkpoints mean fewer waits for the disk. Measured at 250,000 reports in the store, the commit went
from 42 to 23 µs per report. Set on the bulk writer's connection only: a served request must not wait while a
200 MB checkpoint runs."""


@dataclass(slots=True)
class ReadyReport:
    """A report prepared to be filed and processed in one pass: the queue's view of it (what the steps read)
    and its rows' values in stored form, so that the writer only adds ids and decisions.

    Made by `ready` (in the worker process that stores it, when there are workers); ids are given when stored.
    """

    platform_ref: str | None
    received_at: dt.datetime
    queued: QueuedReport
    values: tuple[Any, ...]
    """The report's `REPORT_COLUMNS`, converted for the database named by ``dialect``."""
    files: tuple[tuple[Any, ...], ...]
    """Each file's `FILE_COLUMNS`, converted likewise."""
    dialect: str


def ready(report: PreparedReport, dialect: str, ip_resolver: IpResolver | None = None) -> ReadyReport:
    """``report`` ready for `file_and_process` on a database of ``dialect``: its rows' values in stored form and
    its location decided (`pipeline.decide_stored`, with ``ip_resolver`` if given). Decisions that need no store
    are made here, where the report is parsed (possibly a worker process, outside the store's write turn)."""
    values, facts = report.values, report.facts
    to_report = fastsql.values_converter(REPORTS, REPORT_COLUMNS, dialect)
    to_file = fastsql.values_converter(FILES, FILE_COLUMNS, dialect)
    clues = str(values[_CLUES])
    queued = QueuedReport(
        0,
        None,
        report.platform_ref,
        report.received_at,
        values[_INCIDENT_TYPE],
        facts.escalated,
        facts.annotations,
        clues,
        facts.batch,
        facts.child_victim,
        [
            QueuedFile(0, f[3], f[4], f[5], f[6], f[7], frozenset(f[8]["annotations"]) if f[8] else _NO_FLAGS)
            for f in report.file_values
        ],
        located=decide_stored(clues, ip_resolver),
    )
    set_content(queued)
    return ReadyReport(
        report.platform_ref,
        report.received_at,
        queued,
        to_report(values),
        tuple(map(to_file, report.file_values)),
        dialect,
    )


_NO_FLAGS: frozenset[str] = frozenset()


def _encoded(detail: dict[str, Any]) -> fastsql.EncodedJSON:
    # Serialised with orjson (a tenth of the standard encoder's time) and stored as it is.
    return fastsql.EncodedJSON(orjson.dumps(detail).decode())


@dataclass(frozen=True)
class Processing:
    """How reports filed in one pass are processed: the pipeline's clock, the MaxMind-format database that
    places IP addresses (none by default) and whether the store's known-content banks are asked (as
    `pipeline.run` does). Plain values, so that worker processes can take it and build their own `Processor`:
    the clock must be a module-level function (it is pickled), like `pipeline.wall_clock`.
    """

    clock: Clock = wall_clock
    ip_database: Path | None = None
    banks: bool = True


@dataclass
class Processor:
    """What processing needs at hand, built where the reports are stored (`processor_for`).

    The agency directory is read at the first chunk and kept: agencies change rarely, and a change applies to the
    next import.
    """

    clock: Clock = wall_clock
    ip_resolver: IpResolver | None = None
    banks: Sequence[Matcher] = ()
    directory: ReleaseDirectory | None = field(default=None, repr=False)


@contextmanager
def processor_for(store: Store, processing: Processing) -> Iterator[Processor]:
    """The `Processor` of ``processing`` on ``store``: the IP database open, and the known-content banks as the
    store holds them now (their matcher's threads stopped, the database closed, at the end of the block)."""
    with ExitStack() as stack:
        resolver = stack.enter_context(MaxMindResolver(processing.ip_database)) if processing.ip_database else None
        banks: list[Matcher] = []
        if processing.banks:
            with store.session() as session:
                built = KnownContentBanks.from_store(session)
            if built is not None:
                stack.callback(built.close)
                banks.append(built)
        yield Processor(clock=processing.clock, ip_resolver=resolver, banks=banks)


def file_and_process(
    *,
    session: Session,
    platform_id: int | None,
    reports: Sequence[ReadyReport],
    actor: str,
    processor: Processor,
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
    if processor.directory is None:
        processor.directory = ReleaseDirectory.load(session)
    decisions = decide(
        session,
        [report.queued for report in fresh],
        clock=processor.clock,
        ip_resolver=processor.ip_resolver,
        banks=processor.banks,
        directory=processor.directory,
        stored=False,
    )
    # Rows assembled by hand, each value converted by its column's converter (timestamps are cached: a batch
    # has one processing time).
    timestamp = fastsql.column_converter(REPORTS, "processed_at", dialect)
    stored_class = fastsql.column_converter(REPORTS, "classification", dialect)
    report_rows = []
    file_rows = []
    seen = {row["id"]: row["previously_seen"] for row in decisions.file_rows}
    for report_id, report in zip(ids, fresh, strict=True):
        d = decisions.updates[report_id]
        report_rows.append(
            (
                report_id,
                platform_id,
                *report.values,
                d["country_code"],
                d["state_code"],
                d["location_confidence"],
                d["location_rule"],
                d["priority"],
                stored_class(d["classification"]),
                timestamp(d["processed_at"]),
                d["bundle_id"],
            )
        )
        uploaded = report.values[_UPLOADED]
        for number, (file, values) in enumerate(zip(report.queued.files, report.files, strict=True), start=1):
            file_rows.append((file.id, report_id, f"{report_id}-{number}", uploaded, *values, seen.get(file.id)))
    # The report's own event, and its releases, as rows of values (`at` is the received time as stored).
    events = [
        (
            report.values[_UPLOADED],
            actor,
            "report.filed",
            "report",
            str(report_id),
            _encoded(decisions.details[report_id]),
        )
        for report_id, report in zip(ids, fresh, strict=True)
    ]
    releases = [
        (
            r["report_id"],
            r["agency_id"],
            r["jurisdiction_code"],
            timestamp(r["released_at"]),
            r["released_by"],
            r["reason"],
        )
        for r in decisions.releases
    ]
    plan = decisions.plan
    earlier = [{"bundle_id": b.id, "id": lead} for lead, b in plan.earlier_leads.items()]
    if dialect == "sqlite":
        for setting in BULK_SQLITE_SETTINGS:
            session.connection().exec_driver_sql(f"PRAGMA {setting}")
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
        *fastsql.prepare_insert_values(session, RELEASES, RELEASE_COLUMNS, releases),
        *fastsql.prepare_insert_values(session, AUDIT_EVENTS, EVENT_COLUMNS, events),
        fastsql.prepare_insert(session, AUDIT_EVENTS, decisions.release_events + bundle_events(plan)),
    )
    refresh_counts(session, plan)
    return split.result(ids)
