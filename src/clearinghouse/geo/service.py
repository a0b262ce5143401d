"""Service functions over jurisdictions and agencies: keyword-only; the caller's unit of work commits."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from clearinghouse.geo.jurisdictions import UnknownJurisdiction
from clearinghouse.geo.models import (
    FEDERAL,
    INTERNATIONAL,
    Agency,
    AgencyKind,
    Jurisdiction,
    JurisdictionKind,
)


class DuplicateAgency(ValueError):
    """Raised when an agency of the same name already exists in the jurisdiction."""


def _code(code: str) -> str:
    return code.strip().upper()


def get_jurisdiction(*, session: Session, code: str) -> Jurisdiction | None:
    """The jurisdiction with this code (any case), or None when the store has none."""
    return session.get(Jurisdiction, _code(code))


def require_jurisdiction(*, session: Session, code: str) -> Jurisdiction:
    """The jurisdiction with this code; :class:`UnknownJurisdiction` names the code when there is none."""
    jurisdiction = get_jurisdiction(session=session, code=code)
    if jurisdiction is None:
        known = session.scalar(sa.select(sa.func.count()).select_from(Jurisdiction)) or 0
        hint = "" if known else "the store has no jurisdictions yet: run seed_directory first"
        raise UnknownJurisdiction(code, expected="a jurisdiction code present in the store", detail=hint)
    return jurisdiction


def list_jurisdictions(*, session: Session, kind: JurisdictionKind | None = None) -> Sequence[Jurisdiction]:
    """Every jurisdiction (or those of one kind), ordered by code."""
    query = sa.select(Jurisdiction).order_by(Jurisdiction.code)
    if kind is not None:
        query = query.where(Jurisdiction.kind == kind)
    return session.scalars(query).all()


def list_agencies(
    *,
    session: Session,
    jurisdiction_code: str | None = None,
    kind: AgencyKind | None = None,
    active_only: bool = False,
) -> Sequence[Agency]:
    """Agencies, optionally of one jurisdiction and kind, ordered by jurisdiction then name."""
    query = sa.select(Agency).order_by(Agency.jurisdiction_code, Agency.name)
    if jurisdiction_code is not None:
        query = query.where(Agency.jurisdiction_code == _code(jurisdiction_code))
    if kind is not None:
        query = query.where(Agency.kind == kind)
    if active_only:
        query = query.where(Agency.active.is_(True))
    return session.scalars(query).all()


def create_agency(
    *, session: Session, name: str, kind: AgencyKind, jurisdiction_code: str, active: bool = True
) -> Agency:
    """Add an agency to a jurisdiction already in the store; errors name the field and what was given."""
    clean_name = " ".join(name.split())
    if not clean_name:
        raise ValueError("name: an agency needs a name, got an empty one")
    jurisdiction = require_jurisdiction(session=session, code=jurisdiction_code)
    duplicate = session.scalar(
        sa.select(Agency.id).where(Agency.jurisdiction_code == jurisdiction.code, Agency.name == clean_name)
    )
    if duplicate is not None:
        raise DuplicateAgency(f"name: {jurisdiction.code} already has an agency named {clean_name!r} (id {duplicate})")
    agency = Agency(name=clean_name, kind=AgencyKind(kind), jurisdiction_code=jurisdiction.code, active=active)
    session.add(agency)
    session.flush()  # assigns the id; the caller's unit of work decides whether it is kept
    return agency


_RELEASE_KINDS: dict[str, AgencyKind] = {
    FEDERAL: AgencyKind.FEDERAL_LAW_ENFORCEMENT,
    INTERNATIONAL: AgencyKind.INTERNATIONAL_LAW_ENFORCEMENT,
}


def task_forces_for(*, session: Session, jurisdiction_code: str) -> Sequence[Agency]:
    """The active law-enforcement agencies a report located in this jurisdiction is released to.

    A state, DC or territory: its ICAC task forces. FED: the federal liaisons. INTL: the international
    liaison. Should a state have no active task force, its other active law-enforcement agencies receive the
    report, and failing those the federal liaisons, so that a located report is never released to nobody.
    """
    jurisdiction = require_jurisdiction(session=session, code=jurisdiction_code)
    kind = _RELEASE_KINDS.get(jurisdiction.code, AgencyKind.ICAC_TASK_FORCE)
    agencies = list_agencies(session=session, jurisdiction_code=jurisdiction.code, kind=kind, active_only=True)
    if agencies or jurisdiction.code in _RELEASE_KINDS:
        return agencies
    fallback = [
        agency
        for agency in list_agencies(session=session, jurisdiction_code=jurisdiction.code, active_only=True)
        if agency.kind.is_law_enforcement
    ]
    if fallback:
        return fallback
    return task_forces_for(session=session, jurisdiction_code=FEDERAL)
