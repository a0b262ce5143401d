"""The *bundle* step: reports of one viral item are grouped, and the group is handled once.

The rule, also written in docs/intake.md ("Bundling"); change both together:

* **Platform batch**: reports of one platform whose ``batchedReport`` lists the platform's ids of the grouped
  reports form one bundle, linked through those ids and each report's own. Every id a batched report names is
  remembered (`BundleRef`), so a report joins its batch whether it arrives before or after the report that
  named it, even if it carries no ``batchedReport`` itself. A report naming ids of two bundles joins the older
  one. A ``batchedReport`` that lists no ids (the XML interface carries only the reason) is grouped by content,
  as below.
* **Same content**: reports of one platform whose files are exactly the same set of MD5s, received within
  `SAME_CONTENT_WINDOW` of the bundle's lead, form one bundle.

A report with something individually urgent (see `queue.individually_urgent`) is never folded into a
bundle. The first report of a bundle to be processed is its **lead**; the later ones are its **members**.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from clearinghouse.db.base import table_of
from clearinghouse.tipline import fastsql
from clearinghouse.tipline.models import Bundle, BundleKind, BundleRef, IncidentType, Report, ReportFile, ReportStatus
from clearinghouse.tipline.priority import names_a_child
from clearinghouse.tipline.queue import LOOKUP_CHUNK, QueuedReport, content_key, decode_json, individually_urgent

SAME_CONTENT_WINDOW = dt.timedelta(days=7)
"""A viral item's wave of reports lasts days; past a week the same file is more likely re-shared on purpose."""


@dataclass(slots=True)
class OpenBundle:
    """A bundle as the step sees it; ``joined`` and ``last_joined_at`` grow as members join in this batch."""

    id: int
    kind: BundleKind
    platform_id: int | None
    content_key: str | None
    lead_report_id: int
    opened_at: dt.datetime
    last_joined_at: dt.datetime
    joined: int = 0


@dataclass
class BundlePlan:
    """What the step decided for one batch."""

    bundle_of: dict[int, OpenBundle] = field(default_factory=dict)
    """Report id -> its bundle, for each report of the batch that is in one (as lead or member)."""
    earlier_leads: dict[int, OpenBundle] = field(default_factory=dict)
    """Reports processed in an earlier batch that lead a bundle opened now (their bundle id must be set)."""
    opened: list[OpenBundle] = field(default_factory=list)
    grown: list[OpenBundle] = field(default_factory=list)
    """Bundles opened or joined in this batch: their counts are refreshed once the reports are stored."""
    new_rows: list[dict[str, object]] = field(default_factory=list)
    """Bundles opened in this batch still to be written (with their ids given: see `_Bundler._open`)."""
    new_refs: list[dict[str, object]] = field(default_factory=list)
    """Platform ids newly tied to a bundle, still to be written."""

    def is_member(self, report_id: int) -> bool:
        """In a bundle and not its lead: handled through the lead."""
        bundle = self.bundle_of.get(report_id)
        return bundle is not None and bundle.lead_report_id != report_id


def _chunks(items: Sequence[object], size: int = LOOKUP_CHUNK) -> list[list[object]]:
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


class _Bundler:
    """Places the reports of one batch, in id order, keeping what it learns in memory."""

    def __init__(self, session: Session, reports: Sequence[QueuedReport]) -> None:
        self.session = session
        self.plan = BundlePlan()
        self.bundles: dict[int, OpenBundle] = {}
        self.refs: dict[tuple[int, str], int] = {}
        self.new_refs: list[dict[str, object]] = []
        self.by_content: dict[tuple[int, str], list[OpenBundle]] = {}
        self.loose: dict[tuple[int, str], list[tuple[int, dt.datetime]]] = {}
        self.new_leads: dict[int, OpenBundle] = {}
        self._next_id: int | None = None
        candidates = [r for r in reports if r.platform_id is not None and not r.individually_urgent]
        self._prefetch_refs(candidates)
        self._prefetch_content([r for r in candidates if not r.grouped_refs and r.md5s])

    # Look-ups, once per batch ------------------------------------------------------------------------------

    def _load(self, condition: sa.ColumnElement[bool]) -> list[OpenBundle]:
        query = sa.select(
            Bundle.id,
            Bundle.kind,
            Bundle.platform_id,
            Bundle.content_key,
            Bundle.lead_report_id,
            Bundle.opened_at,
            Bundle.last_joined_at,
        ).where(condition)
        found = [OpenBundle(*row) for row in self.session.execute(query)]
        for bundle in found:
            self.bundles.setdefault(bundle.id, bundle)
        return [self.bundles[bundle.id] for bundle in found]

    def _prefetch_refs(self, reports: Sequence[QueuedReport]) -> None:
        """Bundles already named by the batch's platform ids: those a batched report lists, and each report's own
        (a platform batch may have named it before it arrived)."""
        platforms = sorted({r.platform_id for r in reports if r.platform_id is not None})
        # Most platforms never batch: skip the per-report look-up for those with no batch on file at all.
        any_batch = sa.select(BundleRef.platform_id).where(BundleRef.platform_id.in_(platforms)).distinct()
        batching = set(self.session.scalars(any_batch)) | {r.platform_id for r in reports if r.grouped_refs}
        wanted = sorted({(r.platform_id, ref) for r in reports if r.platform_id in batching for ref in _refs(r)})
        for chunk in _chunks(wanted):
            query = sa.select(BundleRef.platform_id, BundleRef.platform_ref, BundleRef.bundle_id).where(
                sa.tuple_(BundleRef.platform_id, BundleRef.platform_ref).in_(chunk)
            )
            self.refs.update(((platform, ref), bundle) for platform, ref, bundle in self.session.execute(query))
        for chunk in _chunks(sorted(set(self.refs.values()))):
            self._load(Bundle.id.in_(chunk))

    def _prefetch_content(self, reports: Sequence[QueuedReport]) -> None:
        if not reports:
            return
        earliest = min(r.received_at for r in reports) - SAME_CONTENT_WINDOW
        for chunk in _chunks(sorted({r.content for r in reports if r.content is not None})):
            platforms = sorted({r.platform_id for r in reports if r.platform_id is not None})
            near = sa.and_(
                Bundle.platform_id.in_(platforms),
                fastsql.among(self.session, Bundle.content_key, chunk),
                Bundle.opened_at >= earliest,
            )
            for bundle in self._load(near):
                assert bundle.platform_id is not None
                assert bundle.content_key is not None
                self.by_content.setdefault((bundle.platform_id, bundle.content_key), []).append(bundle)
        # A report with an open bundle of its content near it joins that bundle: only the others may need a
        # loose report to lead a new one (so a viral item's thousands of reports are not read again and again).
        alone = [r for r in reports if r.platform_id is None or not self._near_bundles(r, r.platform_id)]
        if alone:
            self._prefetch_loose(alone)

    def _near_bundles(self, report: QueuedReport, platform_id: int) -> list[OpenBundle]:
        """The bundles known so far of the report's platform and content opened within the window of it."""
        key = report.content or content_key(report.md5s)
        return [
            b
            for b in self.by_content.get((platform_id, key), ())
            if abs(report.received_at - b.opened_at) <= SAME_CONTENT_WINDOW
        ]

    def _prefetch_loose(self, reports: Sequence[QueuedReport]) -> None:
        """Processed reports in no bundle sharing a queued report's first MD5, of its platform and within the
        window of it: leads of bundles yet to open.

        Plain look-ups (files by MD5, then reports by id) rather than a join: given the join, SQLite's planner walks
        every processed report through the queue index, which makes each batch slower than the last. The reports
        found are a superset of those that can lead (`_place_by_content` checks each against the window again), so
        each first MD5 keeps only the span of received times of the queued reports starting with it.
        """
        wanted: dict[str, dict[int, tuple[dt.datetime, dt.datetime]]] = {}
        for r in reports:
            if r.platform_id is None:
                continue
            spans = wanted.setdefault(r.md5s[0], {})
            first, last = spans.get(r.platform_id, (r.received_at, r.received_at))
            spans[r.platform_id] = (min(first, r.received_at), max(last, r.received_at))
        in_batch = {r.id for r in reports}
        files, stored = table_of(ReportFile), table_of(Report)
        holders: dict[int, set[str]] = {}
        for chunk in _chunks(sorted(wanted)):
            sharing = sa.select(files.c.report_id, files.c.md5).where(fastsql.among(self.session, files.c.md5, chunk))
            for holder, md5 in self.session.execute(sharing):
                if holder not in in_batch:
                    holders.setdefault(int(holder), set()).add(str(md5))
        near: dict[int, tuple[int, dt.datetime]] = {}
        for chunk in _chunks(sorted(holders)):
            open_ = sa.select(stored.c.id, stored.c.platform_id, stored.c.received_at).where(
                # By id only: given the platform or the received time, SQLite's planner walks their indexes instead.
                fastsql.among(self.session, stored.c.id, chunk),
                stored.c.status == ReportStatus.FINISHED,
                stored.c.processed_at.is_not(None),
                stored.c.bundle_id.is_(None),
            )
            for row in self.session.execute(open_):
                if row[2] is not None and any(_within(wanted[md5], row[1], row[2]) for md5 in holders[row[0]]):
                    near[row[0]] = (row[1], row[2])
        victims = sa.cast(stored.c.body["victims"], sa.Text)
        found: dict[int, tuple[int, dt.datetime]] = {}
        for chunk in _chunks(sorted(near)):
            facts = sa.select(
                stored.c.id,
                stored.c.escalation_reason.is_not(None),
                stored.c.annotations,
                stored.c.incident_type,
                victims,
                stored.c.incident_at,
            ).where(fastsql.among(self.session, stored.c.id, chunk))
            for report_id, escalated, flags, incident, listed, incident_at in self.session.execute(facts):
                urgent = individually_urgent(
                    escalated=bool(escalated),
                    annotations=frozenset(flags or ()),
                    child_victim=names_a_child(decode_json(listed), incident_at),
                    incident_type=IncidentType(incident),
                )
                if not urgent:
                    found[report_id] = near[report_id]
        md5s: dict[int, set[str | None]] = {}
        for chunk in _chunks(sorted(found)):
            held = sa.select(files.c.report_id, files.c.md5).where(
                fastsql.among(self.session, files.c.report_id, chunk)
            )
            for report_id, md5 in self.session.execute(held):
                md5s.setdefault(report_id, set()).add(md5)
        for report_id, (platform_id, received) in sorted(found.items()):
            contents = md5s.get(report_id, set())
            if contents and None not in contents:
                key = content_key([md5 for md5 in contents if md5 is not None])
                self.loose.setdefault((platform_id, key), []).append((report_id, received))

    # Placing ----------------------------------------------------------------------------------------------

    def place(self, report: QueuedReport) -> None:
        platform_id = report.platform_id
        if platform_id is None or report.individually_urgent:
            return
        named = report.platform_ref is not None and (platform_id, report.platform_ref) in self.refs
        if report.grouped_refs or named:
            self._place_batched(report, platform_id)
        elif report.md5s:
            self._place_by_content(report, platform_id)

    def _open(
        self,
        *,
        kind: BundleKind,
        lead: int,
        platform_id: int,
        at: dt.datetime,
        reason: str | None = None,
        key: str | None = None,
    ) -> OpenBundle:
        table = table_of(Bundle)
        values: dict[str, object] = {
            "kind": kind,
            "platform_id": platform_id,
            "reason": reason,
            "content_key": key,
            "lead_report_id": lead,
            "opened_at": at,
            "report_count": 1,
            "last_joined_at": at,
        }
        # The id is taken now and the row written with the batch's other writes (after its reports: the lead may
        # be filed in the same transaction), so on SQLite the write lock is not held while the batch is worked out.
        bundle_id = fastsql.reserve_ids(self.session, table, 1)[0] if self._next_id is None else self._next_id
        self._next_id = bundle_id + 1 if self.session.get_bind().dialect.name == "sqlite" else None
        self.plan.new_rows.append({"id": bundle_id, **values})
        bundle = OpenBundle(bundle_id, kind, platform_id, key, lead, at, at)
        self.bundles[bundle_id] = bundle
        self.plan.opened.append(bundle)
        return bundle

    def _join(self, report: QueuedReport, bundle: OpenBundle) -> None:
        self.plan.bundle_of[report.id] = bundle
        if bundle.lead_report_id != report.id:
            bundle.joined += 1
            bundle.last_joined_at = max(bundle.last_joined_at, report.received_at)

    def _place_batched(self, report: QueuedReport, platform_id: int) -> None:
        refs = _refs(report)
        found = sorted({self.refs[platform_id, ref] for ref in refs if (platform_id, ref) in self.refs})
        if found:
            bundle = self.bundles[found[0]]
        else:
            reason = (report.batch or {}).get("reason")
            bundle = self._open(
                kind=BundleKind.PLATFORM_BATCH,
                lead=report.id,
                platform_id=platform_id,
                at=report.received_at,
                reason=str(reason)[:40] if reason else None,
            )
        for ref in refs:
            if (platform_id, ref) not in self.refs:
                self.refs[platform_id, ref] = bundle.id
                self.new_refs.append({"platform_id": platform_id, "platform_ref": ref, "bundle_id": bundle.id})
        self._join(report, bundle)

    def _place_by_content(self, report: QueuedReport, platform_id: int) -> None:
        key = report.content or content_key(report.md5s)
        near = self._near_bundles(report, platform_id)
        if near:
            self._join(report, max(near, key=lambda b: (b.opened_at, b.id)))
            return
        loose = self.loose.setdefault((platform_id, key), [])
        near_loose = [item for item in loose if abs(report.received_at - item[1]) <= SAME_CONTENT_WINDOW]
        if not near_loose:
            loose.append((report.id, report.received_at))
            return
        lead, opened_at = min(near_loose)
        bundle = self._open(kind=BundleKind.SAME_CONTENT, lead=lead, platform_id=platform_id, at=opened_at, key=key)
        self.by_content.setdefault((platform_id, key), []).append(bundle)
        loose.remove((lead, opened_at))
        self.new_leads[lead] = bundle
        self._join(report, bundle)


def _within(spans: dict[int, tuple[dt.datetime, dt.datetime]], platform_id: int, received: dt.datetime) -> bool:
    """Whether a report of ``platform_id`` received at ``received`` is within the window of a span of ``spans``."""
    span = spans.get(platform_id)
    return span is not None and span[0] - SAME_CONTENT_WINDOW <= received <= span[1] + SAME_CONTENT_WINDOW


def _refs(report: QueuedReport) -> list[str]:
    """The platform ids that tie a report to a platform batch: those it lists, and its own."""
    own = [report.platform_ref] if report.platform_ref is not None else []
    return report.grouped_refs or own


def bundle_batch(session: Session, reports: Sequence[QueuedReport]) -> BundlePlan:
    """Place each report of the batch (in id order) in a bundle or leave it alone; nothing is written yet (see
    `bundle_writes`)."""
    bundler = _Bundler(session, reports)
    for report in sorted(reports, key=lambda r: r.id):
        bundler.place(report)
    plan = bundler.plan
    in_batch = {report.id for report in reports}
    for lead, bundle in bundler.new_leads.items():
        if lead in in_batch:
            plan.bundle_of[lead] = bundle
        else:
            plan.earlier_leads[lead] = bundle
    plan.new_refs = bundler.new_refs
    plan.grown = [b for b in bundler.bundles.values() if b.joined or b in plan.opened]
    return plan


def bundle_writes(session: Session, plan: BundlePlan) -> list[fastsql.Prepared]:
    """The bundles and platform ids the batch adds, ready to write with the batch's other writes."""
    return [
        fastsql.prepare_insert(session, table_of(Bundle), plan.new_rows),
        fastsql.prepare_insert(session, table_of(BundleRef), plan.new_refs),
    ]


def refresh_counts(session: Session, plan: BundlePlan) -> None:
    """Recount the reports of the bundles the batch touched (counted, not incremented: running again is harmless)."""
    if not plan.grown:
        return
    table, reports = table_of(Bundle), table_of(Report)
    members = sa.select(sa.func.count()).where(reports.c.bundle_id == table.c.id).scalar_subquery()
    latest = sa.select(sa.func.max(reports.c.received_at)).where(reports.c.bundle_id == table.c.id).scalar_subquery()
    ids = sorted(b.id for b in plan.grown)
    for start in range(0, len(ids), LOOKUP_CHUNK):
        statement = sa.update(table).where(table.c.id.in_(ids[start : start + LOOKUP_CHUNK]))
        session.execute(statement.values(report_count=members, last_joined_at=latest))
