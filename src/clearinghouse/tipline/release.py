"""The *release* step: make a located report available to the law-enforcement agencies of its jurisdiction.

A report located in a state goes to that state's ICAC task forces (all, where a state has several); FED goes
to the federal liaisons and INTL to the international liaison. A state with no active task force sends to
its other active law-enforcement agencies, and failing those to FED, so no report is released to nobody
(the same rule as `geo.service.task_forces_for`, read here once per batch instead of once per report).
Releasing is idempotent: an agency that already has the report is not given it again. A report can later be
released to another jurisdiction too (`availability.release_to_jurisdiction`); each release is its own row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from clearinghouse.geo.models import FEDERAL, INTERNATIONAL, Agency, AgencyKind
from clearinghouse.tipline import fastsql
from clearinghouse.tipline.models import Release

LOOKUP_CHUNK = 900

_BUCKET_KINDS = {FEDERAL: AgencyKind.FEDERAL_LAW_ENFORCEMENT, INTERNATIONAL: AgencyKind.INTERNATIONAL_LAW_ENFORCEMENT}


@dataclass(frozen=True)
class ReleaseDirectory:
    """Per jurisdiction, the agencies a report located there is released to."""

    by_jurisdiction: dict[str, tuple[int, ...]]

    @classmethod
    def load(cls, session: Session) -> ReleaseDirectory:
        """Read the active law-enforcement agencies once."""
        query = (
            sa.select(Agency.jurisdiction_code, Agency.kind, Agency.id)
            .where(Agency.active.is_(True), Agency.kind != AgencyKind.SOCIAL_SERVICES)
            .order_by(Agency.id)
        )
        by_kind: dict[str, dict[AgencyKind, list[int]]] = {}
        for code, kind, agency_id in session.execute(query):
            by_kind.setdefault(code, {}).setdefault(AgencyKind(kind), []).append(agency_id)
        federal = tuple(by_kind.get(FEDERAL, {}).get(AgencyKind.FEDERAL_LAW_ENFORCEMENT, ()))
        result: dict[str, tuple[int, ...]] = {}
        for code, kinds in by_kind.items():
            if code in _BUCKET_KINDS:
                result[code] = tuple(kinds.get(_BUCKET_KINDS[code], ()))
                continue
            task_forces = kinds.get(AgencyKind.ICAC_TASK_FORCE)
            others = sorted(agency for agency_ids in kinds.values() for agency in agency_ids)
            result[code] = tuple(task_forces or others or federal)
        return cls(result)

    def agencies_for(self, jurisdiction: str) -> tuple[int, ...]:
        """The receiving agencies; a jurisdiction without any law enforcement falls back to FED's."""
        if jurisdiction in self.by_jurisdiction:
            return self.by_jurisdiction[jurisdiction]
        return self.by_jurisdiction.get(FEDERAL, ())


def release_reason(jurisdiction: str) -> str:
    """Why a report went where it went, in the release row."""
    if jurisdiction in (FEDERAL, INTERNATIONAL):
        return f"location: {jurisdiction}"
    return "located"


def new_releases(session: Session, releases: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The releases no agency has yet (by report and agency), each once, in the order given."""
    if not releases:
        return []
    report_ids = sorted({int(r["report_id"]) for r in releases})
    existing: set[tuple[int, int]] = set()
    for start in range(0, len(report_ids), LOOKUP_CHUNK):
        chunk = report_ids[start : start + LOOKUP_CHUNK]
        query = sa.select(Release.report_id, Release.agency_id).where(fastsql.among(session, Release.report_id, chunk))
        existing.update((int(a), int(b)) for a, b in session.execute(query))
    new: list[dict[str, Any]] = []
    for release in releases:
        key = (int(release["report_id"]), int(release["agency_id"]))
        if key not in existing:
            existing.add(key)
            new.append(release)
    return new
