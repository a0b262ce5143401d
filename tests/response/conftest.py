"""Fixtures for the rapid-response tests: a seeded store, agencies, synthetic responders and missing cases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from faker import Faker

from clearinghouse.db.engine import Store
from clearinghouse.geo.agencies import seed_directory
from clearinghouse.geo.models import Agency, AgencyKind
from clearinghouse.missing import service as missing_service
from clearinghouse.missing.models import MissingCase
from clearinghouse.missing.schemas import MissingCaseCreate


@pytest.fixture
def seeded(store: Store) -> Store:
    """The test's store with every jurisdiction and the shipped agency directory."""
    with store.unit_of_work() as session:
        seed_directory(session)
    return store


@pytest.fixture
def row_count(seeded: Store) -> Callable[[type[Any]], int]:
    """Counts the rows of one table in the seeded store."""

    def count(table: type[Any]) -> int:
        with seeded.unit_of_work() as session:
            return session.scalar(sa.select(sa.func.count()).select_from(table)) or 0

    return count


@pytest.fixture
def agency_id(seeded: Store) -> Callable[[str, AgencyKind], int]:
    """The id of the first seeded agency of one kind in one state."""

    def find(state_code: str, kind: AgencyKind) -> int:
        with seeded.unit_of_work() as session:
            query = sa.select(Agency.id).where(Agency.jurisdiction_code == state_code, Agency.kind == kind)
            found = session.scalars(query.order_by(Agency.id)).first()
        assert found is not None, f"the directory has no {kind.value} agency in {state_code}"
        return found

    return find


@pytest.fixture
def fake() -> Faker:
    """Synthetic people only, reproducible from run to run."""
    faker = Faker("en_US")
    faker.seed_instance(1984)
    return faker


@pytest.fixture
def missing_case(seeded: Store, fake: Faker) -> Callable[..., MissingCase]:
    """Opens a missing-child case for a synthetic 12-year-old; keyword arguments change the intake."""

    def open_case(**changes: Any) -> MissingCase:
        missing_since = dt.datetime.now(dt.UTC) - dt.timedelta(days=4)
        fields: dict[str, Any] = {
            "state_code": "AZ",
            "category": "other",
            "case_type": "nonfamily_abduction",
            "child_given_name": fake.first_name(),
            "child_family_name": fake.last_name(),
            "child_birth_date": (missing_since - dt.timedelta(days=12 * 366)).date(),
            "missing_since": missing_since,
            "opened_at": missing_since + dt.timedelta(hours=1),
            "reported_by": "parent",
        }
        fields.update(changes)
        with seeded.unit_of_work() as session:
            data = MissingCaseCreate(**fields)
            return missing_service.open_case(session=session, data=data, actor="intake").case

    return open_case
