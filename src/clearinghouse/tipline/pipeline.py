"""The processing pipeline over filed reports: locate each one, then release it to its jurisdiction.

Finished reports whose ``processed_at`` is empty are the queue. Each batch is one transaction, so a crash
loses at most the batch in flight, which the next run takes again; every step is idempotent (a release to an
agency that already has the report is not repeated). Each step leaves an audit event.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.orm import Session

from clearinghouse.access import audit
from clearinghouse.db.base import table_of, utcnow
from clearinghouse.db.engine import Store
from clearinghouse.geo.ipgeo import IpResolver
from clearinghouse.geo.models import FEDERAL, INTERNATIONAL, Agency, AgencyKind
from clearinghouse.tipline.evidence import to_locate_evidence
from clearinghouse.tipline.locate import LocationDecision, LocationEvidence, locate
from clearinghouse.tipline.models import Release, Report, ReportStatus
from clearinghouse.tipline.wire_schemas import ReportIntake

Clock = Callable[[dt.datetime], dt.datetime]
"""Given a report's received time, the time its processing is recorded at (the wall clock in production)."""

PIPELINE_ACTOR = "pipeline"


def wall_clock(_received_at: dt.datetime) -> dt.datetime:
    """Processing happens now."""
    return utcnow()


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """How many reports a batch processed and where they went."""

    processed: int
    by_jurisdiction: dict[str, int]


def release_agencies(session: Session) -> dict[str, list[int]]:
    """Per jurisdiction, the law-enforcement agencies a located report is released to.

    A state's internet-crimes-against-children task forces (all, where a state has several); the federal
    liaison agencies for FED; the international liaison for INTL.
    """
    kinds = {
        AgencyKind.ICAC_TASK_FORCE,
        AgencyKind.FEDERAL_LAW_ENFORCEMENT,
        AgencyKind.INTERNATIONAL_LAW_ENFORCEMENT,
    }
    query = sa.select(Agency.jurisdiction_code, Agency.id).where(Agency.active.is_(True), Agency.kind.in_(kinds))
    result: dict[str, list[int]] = {}
    for code, agency_id in session.execute(query.order_by(Agency.id)):
        result.setdefault(code, []).append(agency_id)
    return result


def decide(body: dict[str, object], ip_resolver: IpResolver | None = None) -> LocationDecision:
    """Where a report is believed to be, from the evidence in its intake document."""
    intake = ReportIntake.model_validate(body)
    return locate(to_locate_evidence(intake.location_evidence()), ip_resolver=ip_resolver)


@lru_cache(maxsize=65536)
def _decide_clues(signature: str) -> LocationDecision:
    items = [LocationEvidence.model_validate(item) for item in json.loads(signature)]
    return locate(items)


def decide_clues(clues: Sequence[dict[str, object]], ip_resolver: IpResolver | None = None) -> LocationDecision:
    """Where a report is believed to be, from the clues stored at intake.

    ``locate`` is a pure function of the clues, so without an IP database (whose answers may change when it
    is updated) decisions are cached by the clues' canonical JSON: reports repeat the same clues often.
    """
    if ip_resolver is not None:
        return locate([LocationEvidence.model_validate(item) for item in clues], ip_resolver=ip_resolver)
    return _decide_clues(json.dumps(clues, sort_keys=True, separators=(",", ":")))


def process_batch(
    *, session: Session, limit: int = 2000, clock: Clock = wall_clock, ip_resolver: IpResolver | None = None
) -> BatchOutcome:
    """Locate and release up to ``limit`` queued reports in the caller's unit of work."""
    queued = session.execute(
        sa.select(Report.id, Report.location_evidence, Report.received_at)
        .where(Report.status == ReportStatus.FINISHED, Report.processed_at.is_(None))
        .order_by(Report.id)
        .limit(limit)
    ).all()
    if not queued:
        return BatchOutcome(processed=0, by_jurisdiction={})
    agencies = release_agencies(session)
    updates: list[dict[str, object]] = []
    releases: list[dict[str, object]] = []
    events: list[dict[str, object]] = []
    counts: dict[str, int] = {}
    for report_id, clues, received_at in queued:
        at = clock(received_at)
        decision = decide_clues(clues or [], ip_resolver)
        jurisdiction = decision.release_jurisdiction
        counts[jurisdiction] = counts.get(jurisdiction, 0) + 1
        updates.append(
            {
                "report_id": report_id,
                "country_code": decision.country_code,
                "state_code": decision.state,
                "location_confidence": round(decision.confidence, 4),
                "location_rule": decision.rule,
                "processed_at": at,
            }
        )
        for agency_id in agencies.get(jurisdiction, ()):
            releases.append(
                {
                    "report_id": report_id,
                    "agency_id": agency_id,
                    "jurisdiction_code": jurisdiction,
                    "released_at": at,
                    "released_by": PIPELINE_ACTOR,
                    "reason": "located"
                    if jurisdiction not in (FEDERAL, INTERNATIONAL)
                    else f"location: {jurisdiction}",
                }
            )
        events.append(
            {
                "actor": PIPELINE_ACTOR,
                "action": "report.located_and_released",
                "subject_type": "report",
                "subject_id": report_id,
                "at": at,
                "detail": {"jurisdiction": jurisdiction, "confidence": round(decision.confidence, 4)},
            }
        )
    table = table_of(Report)
    statement = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("report_id"))
        .values(
            country_code=sa.bindparam("country_code"),
            state_code=sa.bindparam("state_code"),
            location_confidence=sa.bindparam("location_confidence"),
            location_rule=sa.bindparam("location_rule"),
            processed_at=sa.bindparam("processed_at"),
        )
    )
    session.execute(statement, updates)
    _insert_new_releases(session, releases)
    audit.record_many(session=session, rows=events)
    return BatchOutcome(processed=len(queued), by_jurisdiction=counts)


def _insert_new_releases(session: Session, releases: Sequence[dict[str, object]]) -> None:
    if not releases:
        return
    report_ids = sorted({int(str(r["report_id"])) for r in releases})
    existing: set[tuple[int, int]] = set()
    for start in range(0, len(report_ids), 900):
        chunk = report_ids[start : start + 900]
        existing.update(
            (int(a), int(b))
            for a, b in session.execute(
                sa.select(Release.report_id, Release.agency_id).where(Release.report_id.in_(chunk))
            )
        )
    new = [r for r in releases if (int(str(r["report_id"])), int(str(r["agency_id"]))) not in existing]
    if new:
        session.execute(sa.insert(table_of(Release)), new)


def run(
    store: Store,
    *,
    batch_size: int = 2000,
    clock: Clock = wall_clock,
    ip_resolver: IpResolver | None = None,
    on_batch: Callable[[BatchOutcome], None] | None = None,
) -> int:
    """Process the whole queue, one transaction per batch; returns how many reports were processed."""
    total = 0
    while True:
        with store.unit_of_work() as session:
            outcome = process_batch(session=session, limit=batch_size, clock=clock, ip_resolver=ip_resolver)
        if outcome.processed == 0:
            return total
        total += outcome.processed
        if on_batch is not None:
            on_batch(outcome)


__all__ = ["FEDERAL", "INTERNATIONAL", "BatchOutcome", "decide", "process_batch", "run"]
