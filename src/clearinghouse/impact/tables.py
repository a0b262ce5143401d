"""National tables of the tipline for one year, each counted by one SQL aggregate over the records.

The definitions are in docs/metrics.md ("National tables"); code and page describe the same counts. "Reports
of the year" are finished reports received in the year (UTC); retracted and expired drafts are never counted.
Every report a platform made counts, bundled or not; the `bundles` table says how many were handled through a
bundle. Nothing here writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from clearinghouse.access.models import PlatformAccount
from clearinghouse.geo.jurisdictions import US
from clearinghouse.geo.models import Agency, AgencyKind, Jurisdiction, JurisdictionKind
from clearinghouse.impact.metrics import year_bounds
from clearinghouse.tipline.models import (
    Bundle,
    Classification,
    FileKind,
    IncidentType,
    Release,
    Report,
    ReportFile,
    ReportSource,
    ReportStatus,
)

COUNT = ("reports",)


@dataclass(frozen=True)
class NationalTable:
    """One published table: named rows of counts under named columns."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: Sequence[tuple[str, tuple[int, ...]]]

    def as_json(self) -> dict[str, Any]:
        """The table as JSON: its title, columns and one object per row."""
        return {
            "title": self.title,
            "columns": list(self.columns),
            "rows": [{"row": label, **dict(zip(self.columns, values, strict=True))} for label, values in self.rows],
        }


def _of_year(year: int) -> sa.ColumnElement[bool]:
    start, end = year_bounds(year)
    return sa.and_(Report.status == ReportStatus.FINISHED, Report.received_at >= start, Report.received_at < end)


def _grouped(session: Session, key: Any, year: int, *, joins: Iterable[Any] = (), where: Any = None) -> dict[Any, int]:
    query = sa.select(key, sa.func.count()).select_from(Report)
    for target, on in joins:
        query = query.join(target, on)
    query = query.where(_of_year(year))
    if where is not None:
        query = query.where(where)
    return {value: int(count) for value, count in session.execute(query.group_by(key))}


def _single(title: str, name: str, counts: list[tuple[str, int]], total: bool = True) -> NationalTable:
    rows: list[tuple[str, tuple[int, ...]]] = [(label, (count,)) for label, count in counts]
    if total:
        rows.append(("total", (sum(count for _, count in counts),)))
    return NationalTable(name, title, COUNT, rows)


def reports_by_source(session: Session, year: int) -> NationalTable:
    counts = _grouped(session, Report.source, year)
    rows = [(str(source), counts.get(source, 0)) for source in (ReportSource.PLATFORM, ReportSource.PUBLIC)]
    return _single("Reports by source: platforms and the public", "reports_by_source", rows)


def reports_by_location(session: Session, year: int) -> NationalTable:
    place = sa.case(
        (Report.country_code == US, "united_states"),
        (Report.country_code.is_not(None), "international"),
        else_="unknown",
    )
    counts = _grouped(session, place, year)
    rows = [(label, counts.get(label, 0)) for label in ("united_states", "international", "unknown")]
    return _single("Reports by location: the United States, other countries, unknown", "reports_by_location", rows)


def reports_by_state(session: Session, year: int) -> NationalTable:
    counts = _grouped(session, Report.state_code, year, where=Report.country_code == US)
    us_kinds = (JurisdictionKind.STATE, JurisdictionKind.DISTRICT, JurisdictionKind.TERRITORY)
    codes = session.scalars(
        sa.select(Jurisdiction.code).where(Jurisdiction.kind.in_(us_kinds)).order_by(Jurisdiction.code)
    )
    rows = [(code, counts.get(code, 0)) for code in codes]
    rows.append(("unspecified", counts.get(None, 0)))
    return _single("Reports located in each US state, DC and territory", "reports_by_state", rows)


def reports_by_country(session: Session, year: int) -> NationalTable:
    counts = _grouped(session, Report.country_code, year)
    known = sorted(((code, n) for code, n in counts.items() if code is not None), key=lambda item: (-item[1], item[0]))
    return _single("Reports by country", "reports_by_country", [*known, ("unknown", counts.get(None, 0))])


def reports_by_incident_type(session: Session, year: int) -> NationalTable:
    counts = _grouped(session, Report.incident_type, year)
    rows = [(kind.value, counts.get(kind, 0)) for kind in IncidentType]
    return _single("Reports by incident type", "reports_by_incident_type", rows)


def files_by_kind(session: Session, year: int) -> NationalTable:
    query = (
        sa.select(ReportFile.kind, sa.func.count())
        .join(Report, Report.id == ReportFile.report_id)
        .where(_of_year(year))
        .group_by(ReportFile.kind)
    )
    counts = {kind: int(n) for kind, n in session.execute(query)}
    rows = [(str(kind), (counts.get(kind, 0),)) for kind in FileKind]
    rows.append(("total", (sum(counts.values()),)))
    return NationalTable("files_by_kind", "Files of the year's reports, by kind", ("files",), rows)


def unique_files(session: Session, year: int) -> NationalTable:
    def distinct(kind: FileKind | None) -> int:
        query = (
            sa.select(sa.func.count(sa.distinct(ReportFile.md5)))
            .join(Report, Report.id == ReportFile.report_id)
            .where(_of_year(year), ReportFile.md5.is_not(None))
        )
        if kind is not None:
            query = query.where(ReportFile.kind == kind)
        return int(session.scalar(query) or 0)

    rows = [(str(kind), (distinct(kind),)) for kind in FileKind]
    rows.append(("total", (distinct(None),)))
    return NationalTable("unique_files", "Distinct files of the year's reports, by MD5", ("files",), rows)


def unique_files_grouped(session: Session, year: int) -> NationalTable:
    """Distinct files by MD5, and distinct pictures once visually similar images are grouped (same MD5, or PDQ
    within the match distance, both of usable quality; see hashing/grouping.py)."""
    from clearinghouse.hashing.grouping import count_groups

    rows = session.execute(
        sa.select(ReportFile.md5, ReportFile.pdq, ReportFile.pdq_quality)
        .join(Report, Report.id == ReportFile.report_id)
        .where(_of_year(year))
    ).all()
    md5s = [row[0] for row in rows]
    distinct_md5 = len({md5 for md5 in md5s if md5 is not None}) + sum(1 for md5 in md5s if md5 is None)
    grouped = count_groups(md5s, [row[1] for row in rows], [row[2] for row in rows])
    table_rows = [("before_grouping", (distinct_md5,)), ("after_grouping", (grouped,))]
    return NationalTable(
        "unique_files_grouped", "Unique files, before and after grouping similar images", ("files",), table_rows
    )


def reports_by_content(session: Session, year: int) -> NationalTable:
    new = sa.exists().where(ReportFile.report_id == Report.id, ReportFile.previously_seen.is_(False))
    seen = sa.exists().where(ReportFile.report_id == Report.id, ReportFile.previously_seen.is_(True))
    kind = sa.case((new, "new_content"), (seen, "previously_seen_only"), else_="no_matched_file")
    counts = _grouped(session, kind, year)
    rows = [(label, counts.get(label, 0)) for label in ("new_content", "previously_seen_only", "no_matched_file")]
    return _single("Reports with new content, and with content seen before only", "reports_by_content", rows)


def _platform_label(name: str) -> str:
    """A platform's row label: its name, unless a reader would take that name for the table's total row."""
    return f"{name} (platform)" if name.strip().casefold() == "total" else name


def reports_by_platform(session: Session, year: int) -> NationalTable:
    joins = [(PlatformAccount, PlatformAccount.id == Report.platform_id)]
    counts = _grouped(session, PlatformAccount.name, year, joins=joins)
    rows = sorted(((_platform_label(name), n) for name, n in counts.items()), key=lambda item: (-item[1], item[0]))
    return _single("Reports per reporting platform", "reports_by_platform", rows)


def reports_by_classification(session: Session, year: int) -> NationalTable:
    counts = _grouped(session, Report.classification, year)
    rows = [(str(c), counts.get(c, 0)) for c in Classification]
    rows.append(("not_yet_classified", counts.get(None, 0)))
    return _single("Reports by classification: referral or informational", "reports_by_classification", rows)


def escalated_reports(session: Session, year: int) -> NationalTable:
    requested = _grouped(session, Report.escalation_reason.is_not(None), year)
    urgent = _grouped(session, Report.priority == 1, year)
    rows = [("escalation_requested", requested.get(True, 0)), ("urgent_priority", urgent.get(True, 0))]
    return _single("Escalated reports", "escalated_reports", rows, total=False)


def reports_by_recipient(session: Session, year: int) -> NationalTable:
    kinds = {
        "icac_task_forces": [AgencyKind.ICAC_TASK_FORCE],
        "state_and_local_law_enforcement": [AgencyKind.STATE_LAW_ENFORCEMENT, AgencyKind.LOCAL_LAW_ENFORCEMENT],
        "federal_law_enforcement": [AgencyKind.FEDERAL_LAW_ENFORCEMENT],
        "international_law_enforcement": [AgencyKind.INTERNATIONAL_LAW_ENFORCEMENT],
    }
    rows = []
    for label, agency_kinds in kinds.items():
        query = (
            sa.select(Report.classification, sa.func.count(sa.distinct(Report.id)))
            .join(Release, Release.report_id == Report.id)
            .join(Agency, Agency.id == Release.agency_id)
            .where(_of_year(year), Agency.kind.in_(agency_kinds))
            .group_by(Report.classification)
        )
        counts = {c: int(n) for c, n in session.execute(query)}
        referral, informational = counts.get(Classification.REFERRAL, 0), counts.get(Classification.INFORMATIONAL, 0)
        rows.append((label, (referral, informational, sum(counts.values()))))
    title = "Reports made available to law enforcement, by kind of recipient"
    return NationalTable("reports_by_recipient", title, ("referral", "informational", "total"), rows)


def bundles(session: Session, year: int) -> NationalTable:
    start, end = year_bounds(year)
    opened = session.scalar(
        sa.select(sa.func.count()).select_from(Bundle).where(Bundle.opened_at >= start, Bundle.opened_at < end)
    )
    bundled = _grouped(session, Report.bundle_id.is_not(None), year)
    members = int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(Report)
            .join(Bundle, Bundle.id == Report.bundle_id)
            .where(_of_year(year), Bundle.lead_report_id != Report.id)
        )
        or 0
    )
    rows = [
        ("bundles_opened", int(opened or 0)),
        ("reports_in_bundles", bundled.get(True, 0)),
        ("reports_handled_through_a_lead", members),
    ]
    return _single("Bundles of reports of one viral item", "bundles", rows, total=False)


TABLES: dict[str, Callable[[Session, int], NationalTable]] = {
    "reports_by_source": reports_by_source,
    "reports_by_location": reports_by_location,
    "reports_by_state": reports_by_state,
    "reports_by_country": reports_by_country,
    "reports_by_incident_type": reports_by_incident_type,
    "files_by_kind": files_by_kind,
    "unique_files": unique_files,
    "unique_files_grouped": unique_files_grouped,
    "reports_by_content": reports_by_content,
    "reports_by_platform": reports_by_platform,
    "reports_by_classification": reports_by_classification,
    "escalated_reports": escalated_reports,
    "reports_by_recipient": reports_by_recipient,
    "bundles": bundles,
}
"""Every national table of the tipline, by name, in the order they are published."""


def all_tables() -> dict[str, Callable[[Session, int], NationalTable]]:
    """The tipline's tables followed by the victim-identification ones (vid_tables builds on this module)."""
    from clearinghouse.impact.vid_tables import VID_TABLES

    return {**TABLES, **VID_TABLES}


def national_tables(session: Session, year: int, names: Iterable[str] | None = None) -> list[NationalTable]:
    """The named tables (all by default) for ``year``, each once even if named twice (a JSON document holds a
    table once, so CSV and Markdown do too)."""
    known = all_tables()
    wanted = list(dict.fromkeys(names)) if names else list(known)
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise KeyError(f"no national table named {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[name](session, year) for name in wanted]


def generated_at() -> str:
    """When tables are produced (UTC, to the second), for the JSON output."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
