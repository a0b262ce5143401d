"""The processing pipeline over filed reports: bundle, match, locate, prioritise, classify, release.

Finished reports whose ``processed_at`` is empty are the queue (`queue.load_batch`). Each batch is one
transaction: every step of every report of the batch commits together, so a crash loses at most the batch in
flight, which the next run takes again from the start. Every step is also idempotent on its own: its writes set
values computed from the records (a file's match is decided by report order, not by when the step runs),
bundles and releases are added only when absent. A batch decides everything first and writes at the end
(`_store`). Each report gets one audit event per pass holding every step's decision; each bundle opened, and
each release of a lead through a member, one more.

A bundle is handled once (docs/intake.md, "Bundling"): its lead goes through every step; a member is matched
and located like any report, takes the lead's priority and classification, and instead of being released
itself makes the lead available to the member's jurisdiction, if the lead is not there already.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from clearinghouse.access.models import AuditEvent
from clearinghouse.db.base import table_of, utcnow
from clearinghouse.db.engine import Store
from clearinghouse.geo.ipgeo import IpResolver
from clearinghouse.tipline import fastsql
from clearinghouse.tipline.bundle import BundlePlan, bundle_batch, bundle_writes, refresh_counts
from clearinghouse.tipline.filing import audit_row
from clearinghouse.tipline.locate import LocationDecision, LocationEvidence, locate
from clearinghouse.tipline.matching import FileHashes, KnownContentBanks, Matcher, previously_seen
from clearinghouse.tipline.models import Classification, Release, Report, ReportFile
from clearinghouse.tipline.priority import VIRAL_FILE_ANNOTATIONS, Priority, ReportFacts, classify, prioritise
from clearinghouse.tipline.queue import LOOKUP_CHUNK, QueuedReport, load_batch
from clearinghouse.tipline.release import ReleaseDirectory, new_releases, release_reason

Clock = Callable[[dt.datetime], dt.datetime]
"""Given a report's received time, the time its processing is recorded at (the wall clock in production)."""

PIPELINE_ACTOR = "pipeline"
BATCH_SIZE = 5000


def wall_clock(_received_at: dt.datetime) -> dt.datetime:
    """Processing happens now."""
    return utcnow()


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """How many reports a batch processed and where they went (members count where they were located)."""

    processed: int
    by_jurisdiction: dict[str, int]


@lru_cache(maxsize=65536)
def _decide_text(clues: str) -> LocationDecision:
    return locate([LocationEvidence.model_validate(item) for item in json.loads(clues)])


def decide_stored(clues: str, ip_resolver: IpResolver | None = None) -> LocationDecision:
    """Where a report is believed to be, from its clues as stored (JSON text).

    ``locate`` is a pure function of the clues, so without an IP database (whose answers change when it is
    updated) decisions are cached by the clues' text: reports repeat the same clues often.
    """
    if ip_resolver is not None:
        return locate([LocationEvidence.model_validate(item) for item in json.loads(clues)], ip_resolver=ip_resolver)
    return _decide_text(clues)


def _match(
    session: Session, reports: Sequence[QueuedReport], banks: Sequence[Matcher], *, stored: bool = True
) -> tuple[dict[int, tuple[int, int]], list[dict[str, Any]]]:
    """Decide each file's ``previously_seen``: per report (new files, files seen before), and the file rows to
    update (written with the batch's other writes)."""
    files = [FileHashes(f.id, r.id, f.md5, f.sha1, f.sha256, f.pdq, f.pdq_quality) for r in reports for f in r.files]
    seen = previously_seen(session, files, banks, stored=stored)
    counts = {r.id: (0, 0) for r in reports}
    rows: list[dict[str, Any]] = []
    for file, answer in zip(files, seen, strict=True):
        new, old = counts[file.report_id]
        counts[file.report_id] = (new + (answer is False), old + (answer is True))
        if answer is not None:
            rows.append({"previously_seen": answer, "id": file.file_id})
    return counts, rows


def _lead_outcomes(session: Session, plan: BundlePlan, decided: dict[int, tuple[Priority, Classification]]) -> None:
    """Add the stored priority and classification of leads processed in earlier batches."""
    missing = sorted({b.lead_report_id for b in plan.bundle_of.values()} - decided.keys())
    for start in range(0, len(missing), LOOKUP_CHUNK):
        query = sa.select(Report.id, Report.priority, Report.classification).where(
            Report.id.in_(missing[start : start + LOOKUP_CHUNK])
        )
        for report_id, priority, classification in session.execute(query):
            if priority is not None and classification is not None:
                decided[report_id] = (Priority(priority), Classification(classification))


def _event(report_id: int, at: dt.datetime, detail: dict[str, Any], action: str = "report.processed") -> dict[str, Any]:
    return audit_row(PIPELINE_ACTOR, action, report_id, at, detail)


_Judgement = tuple[Priority, str, Classification, str]
_JUDGED: dict[tuple[Any, ...], _Judgement] = {}
_JUDGED_MAX = 65536


def _judged(report: QueuedReport, decision: LocationDecision, new: int, old: int) -> _Judgement:
    """The report's priority and classification, and why. The rules are pure functions of few distinct facts, so
    judgements are kept by those facts (as a plain tuple: cheaper to build and hash than `ReportFacts`)."""
    viral = _viral(report)
    known = decision.country_code is not None
    key = (report.incident_type, report.escalated, report.annotations, report.child_victim, new, old, viral, known)
    judged = _JUDGED.get(key)
    if judged is None:
        facts = ReportFacts(
            incident_type=report.incident_type,
            escalated=report.escalated,
            annotations=report.annotations,
            child_victim=report.child_victim,
            new_files=new,
            seen_files=old,
            viral=viral,
            location_known=known,
        )
        priority, why = prioritise(facts)
        classification, because = classify(facts, priority)
        judged = (priority, why, classification, because)
        if len(_JUDGED) < _JUDGED_MAX:
            _JUDGED[key] = judged
    return judged


@dataclass
class Decisions:
    """What every step decided for a batch of reports, not yet written."""

    plan: BundlePlan
    updates: dict[int, dict[str, Any]]
    """Report id -> the columns the steps set (location, priority, classification, bundle, ``processed_at``)."""
    details: dict[int, dict[str, Any]]
    """Report id -> every step's decision, for the report's audit event."""
    file_rows: list[dict[str, Any]]
    """``previously_seen`` per file id."""
    releases: list[dict[str, Any]]
    """New releases only (an agency that already has a report is not given it again)."""
    release_events: list[dict[str, Any]]
    """A ``report.released`` event per lead made available somewhere new through a member."""
    outcome: BatchOutcome


def decide(
    session: Session,
    reports: Sequence[QueuedReport],
    *,
    clock: Clock = wall_clock,
    ip_resolver: IpResolver | None = None,
    banks: Sequence[Matcher] = (),
    directory: ReleaseDirectory | None = None,
    stored: bool = True,
) -> Decisions:
    """Run every step over ``reports`` (in id order) and return the decisions; nothing is written.

    ``stored`` is False when the reports (and their files) are not in the store yet because they are filed in
    the same transaction (`onepass`): their files then count as seen by the later reports of the batch, and
    they cannot have been released to anyone before.
    """
    if clock is wall_clock:
        now = utcnow()  # the batch is one transaction: one processing time for all its reports

        def clock(_received_at: dt.datetime) -> dt.datetime:
            return now

    plan = bundle_batch(session, reports)
    matched, file_rows = _match(session, reports, banks, stored=stored)
    directory = directory or ReleaseDirectory.load(session)
    decided: dict[int, tuple[Priority, Classification]] = {}
    updates: dict[int, dict[str, Any]] = {}
    details: dict[int, dict[str, Any]] = {}
    releases: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    members: list[tuple[QueuedReport, str, dt.datetime]] = []
    for report in reports:
        at = clock(report.received_at)
        decision = report.located or decide_stored(report.clues, ip_resolver)
        jurisdiction = decision.release_jurisdiction
        counts[jurisdiction] = counts.get(jurisdiction, 0) + 1
        bundle = plan.bundle_of.get(report.id)
        new, old = matched[report.id]
        priority, why, classification, because = _judged(report, decision, new, old)
        confidence = round(decision.confidence, 4)
        updates[report.id] = {
            "country_code": decision.country_code,
            "state_code": decision.state,
            "location_confidence": confidence,
            "location_rule": decision.rule,
            "priority": int(priority),
            "classification": classification,
            "processed_at": at,
            "bundle_id": bundle.id if bundle is not None else None,
        }
        # One event per report and pass records every step's decision: the steps commit together, so this is
        # as complete as an event per step, at a fifth of the writes.
        detail: dict[str, Any] = {
            "matched": {"new_files": new, "seen_files": old},
            "located": {"jurisdiction": jurisdiction, "confidence": confidence},
        }
        if bundle is not None:
            detail["bundled"] = {"bundle": bundle.id, "lead": bundle.lead_report_id}
        details[report.id] = detail
        if plan.is_member(report.id):
            members.append((report, jurisdiction, at))
            continue
        decided[report.id] = (priority, classification)
        detail["prioritised"] = {"priority": int(priority), "reason": why}
        detail["classified"] = {"classification": str(classification), "reason": because}
        detail["released"] = {"jurisdiction": jurisdiction}
        for agency_id in directory.agencies_for(jurisdiction):
            releases.append(_release(report.id, agency_id, jurisdiction, at, release_reason(jurisdiction)))
    _lead_outcomes(session, plan, decided)
    through_members: list[dict[str, Any]] = []
    for report, jurisdiction, at in members:
        bundle = plan.bundle_of[report.id]
        lead = bundle.lead_report_id
        if lead in decided:  # otherwise (a lead from before priorities were kept) the member's own stand
            priority, classification = decided[lead]
            updates[report.id].update(priority=int(priority), classification=classification)
        details[report.id]["released"] = {"jurisdiction": jurisdiction, "through_lead": lead}
        reason = f"bundle {bundle.id}: member report {report.id} located ({jurisdiction})"
        for agency_id in directory.agencies_for(jurisdiction):
            through_members.append(_release(lead, agency_id, jurisdiction, at, reason[:200]))
    # Reports never stored were never released: only their leads' earlier releases need looking up.
    own = new_releases(session, releases) if stored else releases
    if stored:
        through = new_releases(session, own + through_members)[len(own) :]
    else:  # only the leads can have been released before; the batch's own releases are all new
        given = {(r["report_id"], r["agency_id"]) for r in own}
        through = [r for r in new_releases(session, through_members) if (r["report_id"], r["agency_id"]) not in given]
    release_events = []
    for release in through:
        # The lead became available somewhere new because of a member: that is a release of the lead.
        detail = {key: release[key] for key in ("jurisdiction_code", "agency_id", "reason")}
        release_events.append(_event(release["report_id"], release["released_at"], detail, "report.released"))
    return Decisions(
        plan=plan,
        updates=updates,
        details=details,
        file_rows=file_rows,
        releases=own + through,
        release_events=release_events,
        outcome=BatchOutcome(processed=len(reports), by_jurisdiction=counts),
    )


def process_batch(
    *,
    session: Session,
    limit: int = BATCH_SIZE,
    clock: Clock = wall_clock,
    ip_resolver: IpResolver | None = None,
    banks: Sequence[Matcher] = (),
) -> BatchOutcome:
    """Run every step over up to ``limit`` queued reports in the caller's unit of work."""
    reports = load_batch(session, limit=limit)
    if not reports:
        return BatchOutcome(processed=0, by_jurisdiction={})
    decisions = decide(session, reports, clock=clock, ip_resolver=ip_resolver, banks=banks)
    updates = [{**decisions.updates[r.id], "id": r.id} for r in reports]
    events = [_event(row["id"], row["processed_at"], decisions.details[row["id"]]) for row in updates]
    _store(session, decisions.plan, updates, decisions.file_rows, decisions.releases, events + decisions.release_events)
    return decisions.outcome


def _viral(report: QueuedReport) -> bool:
    reason = (report.batch or {}).get("reason")
    return reason == "VIRAL_POTENTIAL_MEME" or any(f.annotations & VIRAL_FILE_ANNOTATIONS for f in report.files)


def _release(report_id: int, agency_id: int, jurisdiction: str, at: dt.datetime, reason: str) -> dict[str, Any]:
    return {
        "report_id": report_id,
        "agency_id": agency_id,
        "jurisdiction_code": jurisdiction,
        "released_at": at,
        "released_by": PIPELINE_ACTOR,
        "reason": reason,
    }


def _without_bundle(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key != "bundle_id"}


def _store(
    session: Session,
    plan: BundlePlan,
    updates: list[dict[str, Any]],
    file_rows: list[dict[str, Any]],
    releases: list[dict[str, Any]],
    events: list[dict[str, Any]],
) -> None:
    """Write the batch: everything is converted first, so that on SQLite the write lock is held only while the
    rows are stored (bulk intake may be waiting for it)."""
    reports, files = table_of(Report), table_of(ReportFile)
    events = events + bundle_events(plan)
    earlier = [{"bundle_id": b.id, "id": lead} for lead, b in plan.earlier_leads.items()]
    statements = [
        *bundle_writes(session, plan),
        # Bundled reports apart: leaving bundle_id out of the others' statement spares its index a rewrite.
        fastsql.prepare_update(session, reports, [_without_bundle(row) for row in updates if row["bundle_id"] is None]),
        fastsql.prepare_update(session, reports, [row for row in updates if row["bundle_id"] is not None]),
        fastsql.prepare_update(session, reports, earlier),
        fastsql.prepare_update(session, files, file_rows),
        fastsql.prepare_insert(session, table_of(Release), releases),
        fastsql.prepare_insert(session, table_of(AuditEvent), events),
    ]
    fastsql.run(session, *statements)
    refresh_counts(session, plan)


def bundle_events(plan: BundlePlan) -> list[dict[str, Any]]:
    """A ``bundle.opened`` event per bundle the batch opened."""
    events = []
    for bundle in plan.opened:
        detail = {"kind": str(bundle.kind), "lead": bundle.lead_report_id}
        event = audit_row(PIPELINE_ACTOR, "bundle.opened", bundle.id, bundle.opened_at, detail)
        events.append({**event, "subject_type": "bundle"})
    return events


ATTEMPTS = 5
"""Times a batch is tried when another pipeline process clashes with it (see `_batch_with_retries`)."""


def _batch_with_retries(
    store: Store, batch_size: int, clock: Clock, ip_resolver: IpResolver | None, banks: Sequence[Matcher]
) -> BatchOutcome:
    """One batch in one transaction, holding the store's write turn from its first read (``exclusive``, see
    `engine.take_write_lock`): pipeline processes and one-pass imports take turns, each deciding from what the
    others committed. Taken again from the start when it clashed with a writer that does not take turns (a
    unique key, or SQLite refusing a stale write).
    """
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with fastsql.gc_paused(), store.unit_of_work(exclusive=True) as session:
                return process_batch(
                    session=session, limit=batch_size, clock=clock, ip_resolver=ip_resolver, banks=banks
                )
        except (sa.exc.OperationalError, sa.exc.IntegrityError):
            if attempt == ATTEMPTS:
                raise
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


def run(
    store: Store,
    *,
    batch_size: int = BATCH_SIZE,
    clock: Clock = wall_clock,
    ip_resolver: IpResolver | None = None,
    banks: Sequence[Matcher] | None = None,
    on_batch: Callable[[BatchOutcome], None] | None = None,
) -> int:
    """Process the whole queue, one transaction per batch; returns how many reports were processed.

    ``banks`` default to the hashing program's known-content banks, as the store holds them when the run starts.
    """
    built: KnownContentBanks | None = None
    if banks is None:
        with store.session() as session:
            built = KnownContentBanks.from_store(session)
        banks = [built] if built is not None else []
    total = 0
    try:
        while True:
            outcome = _batch_with_retries(store, batch_size, clock, ip_resolver, banks)
            if outcome.processed == 0:
                return total
            total += outcome.processed
            if on_batch is not None:
                on_batch(outcome)
    finally:
        if built is not None:
            built.close()


__all__ = ["BatchOutcome", "Decisions", "bundle_events", "decide", "decide_stored", "process_batch", "run"]
