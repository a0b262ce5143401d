"""Helpers of the law-enforcement tests: agencies of the seeded directory, users, an officer of a state."""

from __future__ import annotations

import sqlalchemy as sa

from clearinghouse.access.models import Role
from clearinghouse.access.service import create_user
from clearinghouse.db.engine import Store
from clearinghouse.geo.models import Agency, AgencyKind


def agency_of(store: Store, code: str, kind: AgencyKind = AgencyKind.ICAC_TASK_FORCE) -> int:
    """The id of the first agency of ``kind`` in jurisdiction ``code``."""
    with store.session() as session:
        query = sa.select(Agency.id).where(Agency.jurisdiction_code == code, Agency.kind == kind).order_by(Agency.id)
        found = session.scalars(query).first()
    assert found is not None, (code, kind)
    return found


def add_user(store: Store, email: str, role: Role, agency_id: int | None) -> tuple[str, str]:
    """A new user's (e-mail address, password)."""
    with store.unit_of_work() as session:
        issued = create_user(session=session, email=email, full_name="A. Person", role=role, agency_id=agency_id)
    return email, issued.password


def officer(store: Store, code: str) -> tuple[str, str]:
    """A new officer of the first ICAC task force of ``code``: (e-mail address, password)."""
    return add_user(store, f"officer.{code.lower()}@example.org", Role.LAW_ENFORCEMENT, agency_of(store, code))


def set_agency_active(store: Store, agency_id: int, active: bool) -> None:
    """Deactivate an agency, as an operator does in the store, or make it active again."""
    with store.unit_of_work() as session:
        session.execute(sa.update(Agency).where(Agency.id == agency_id).values(active=active))
