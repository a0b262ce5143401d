"""Users: created with a random password kept only as a hash, bound to an agency of their kind, verified in
constant time; refused input stores nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from faker import Faker

from clearinghouse.access.audit import history
from clearinghouse.access.models import Role, User
from clearinghouse.access.service import (
    authenticate_user,
    create_user,
    list_users,
    new_user_password,
    set_user_active,
)
from clearinghouse.db.engine import Store
from clearinghouse.errors import Conflict, InputError
from clearinghouse.geo.agencies import seed_directory
from clearinghouse.geo.models import Agency, AgencyKind


def _agency(store: Store, code: str, kind: AgencyKind) -> int:
    with store.unit_of_work() as session:
        if session.scalar(sa.select(sa.func.count()).select_from(Agency)) == 0:
            seed_directory(session)
        query = sa.select(Agency.id).where(Agency.jurisdiction_code == code, Agency.kind == kind).order_by(Agency.id)
        found = session.scalars(query).first()
    assert found is not None
    return found


def _users(store: Store) -> int:
    with store.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(User)) or 0


def test_an_officer_is_created_with_a_password_only_its_hash_is_kept(any_store: Store, fake: Faker) -> None:
    task_force = _agency(any_store, "NY", AgencyKind.ICAC_TASK_FORCE)
    email = fake.email()
    with any_store.unit_of_work() as session:
        issued = create_user(
            session=session,
            email=f"  {email.upper()} ",
            full_name=fake.name(),
            role=Role.LAW_ENFORCEMENT,
            agency_id=task_force,
            actor="cli",
        )
        user_id = issued.user.id
    assert len(issued.password) >= 20
    with any_store.session() as session:
        user = session.get(User, user_id)
        assert user is not None
        assert (user.email, user.role, user.agency_id, user.active) == (
            email.lower(),
            Role.LAW_ENFORCEMENT,
            task_force,
            True,
        )
        assert issued.password not in user.password_hash
        assert user.password_hash.startswith("$argon2")
        assert [e.action for e in history(session=session, subject_type="user", subject_id=user_id)] == ["user.created"]
        assert authenticate_user(session=session, email=email, password=issued.password) is not None
        assert authenticate_user(session=session, email=email, password=issued.password + "x") is None
        assert authenticate_user(session=session, email="nobody@example.org", password=issued.password) is None
        assert [u.email for u in list_users(session=session)] == [email.lower()]


@pytest.mark.parametrize(
    ("email", "role", "agency", "field"),
    [
        ("not-an-address", Role.LAW_ENFORCEMENT, ("NY", AgencyKind.ICAC_TASK_FORCE), "email"),
        ("officer@example.org", Role.LAW_ENFORCEMENT, None, "agency"),
        ("officer@example.org", Role.LAW_ENFORCEMENT, ("NY", AgencyKind.SOCIAL_SERVICES), "agency"),
        ("worker@example.org", Role.SOCIAL_SERVICES, ("NY", AgencyKind.ICAC_TASK_FORCE), "agency"),
        ("analyst@example.org", Role.ANALYST, ("NY", AgencyKind.ICAC_TASK_FORCE), "agency"),
    ],
)
def test_a_user_that_does_not_fit_their_agency_is_refused_and_nothing_is_stored(
    any_store: Store, email: str, role: Role, agency: tuple[str, AgencyKind] | None, field: str
) -> None:
    agency_id = _agency(any_store, *agency) if agency is not None else None
    with pytest.raises(InputError) as refused, any_store.unit_of_work() as session:
        create_user(session=session, email=email, full_name="A. Person", role=role, agency_id=agency_id)
    assert refused.value.field == field
    assert _users(any_store) == 0


def test_unknown_and_inactive_agencies_and_a_second_account_for_one_address_are_refused(any_store: Store) -> None:
    task_force = _agency(any_store, "CA", AgencyKind.ICAC_TASK_FORCE)
    with pytest.raises(InputError, match="no agency's id"), any_store.unit_of_work() as session:
        create_user(session=session, email="a@example.org", full_name="A", role=Role.LAW_ENFORCEMENT, agency_id=10**9)
    with any_store.unit_of_work() as session:
        create_user(
            session=session, email="a@example.org", full_name="A", role=Role.LAW_ENFORCEMENT, agency_id=task_force
        )
    with pytest.raises(Conflict), any_store.unit_of_work() as session:
        create_user(session=session, email="A@Example.org", full_name="B", role=Role.ANALYST)
    with any_store.unit_of_work() as session:
        agency = session.get(Agency, task_force)
        assert agency is not None
        agency.active = False
    with pytest.raises(InputError, match="not active"), any_store.unit_of_work() as session:
        create_user(
            session=session, email="b@example.org", full_name="B", role=Role.LAW_ENFORCEMENT, agency_id=task_force
        )
    assert _users(any_store) == 1


def test_a_new_password_replaces_the_old_and_a_deactivated_user_cannot_sign_in(any_store: Store) -> None:
    with any_store.unit_of_work() as session:
        first = create_user(session=session, email="staff@example.org", full_name="Staff", role=Role.ANALYST).password
    with any_store.unit_of_work() as session:
        second = new_user_password(session=session, email="STAFF@example.org").password
    with any_store.session() as session:
        assert authenticate_user(session=session, email="staff@example.org", password=first) is None
        assert authenticate_user(session=session, email="staff@example.org", password=second) is not None
    with any_store.unit_of_work() as session:
        set_user_active(session=session, email="staff@example.org", active=False, actor="cli")
    with any_store.session() as session:
        assert authenticate_user(session=session, email="staff@example.org", password=second) is None
        user = session.scalars(sa.select(User)).one()
        actions = [e.action for e in history(session=session, subject_type="user", subject_id=user.id)]
    assert actions == ["user.created", "user.password_replaced", "user.deactivated"]
    with pytest.raises(InputError, match="no user's e-mail"), any_store.unit_of_work() as session:
        new_user_password(session=session, email="nobody@example.org")
