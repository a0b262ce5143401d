"""Fixtures for the missing-children tests: a store with the directory seeded, and synthetic intakes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from faker import Faker

from clearinghouse.db.engine import Store
from clearinghouse.geo.agencies import seed_directory
from clearinghouse.missing.models import CaseCategory, CaseType
from clearinghouse.missing.schemas import MissingCaseCreate

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def seeded(store: Store) -> Store:
    """The test's store with every jurisdiction and the shipped agency directory."""
    with store.unit_of_work() as session:
        seed_directory(session)
    return store


@pytest.fixture
def fake() -> Faker:
    """Synthetic people only, reproducible from run to run."""
    faker = Faker("en_US")
    faker.seed_instance(20230611)
    return faker


@pytest.fixture
def intake(fake: Faker) -> Callable[..., MissingCaseCreate]:
    """Builds a valid intake of a synthetic 14-year-old missing from California two days ago."""

    def build(**changes: Any) -> MissingCaseCreate:
        missing_since = NOW - dt.timedelta(days=2)
        fields: dict[str, Any] = {
            "state_code": "CA",
            "category": CaseCategory.SOCIAL_SERVICES,
            "case_type": CaseType.ENDANGERED_RUNAWAY,
            "child_given_name": fake.first_name(),
            "child_family_name": fake.last_name(),
            "child_birth_date": (missing_since - dt.timedelta(days=14 * 365 + 40)).date(),
            "missing_since": missing_since,
            "opened_at": missing_since + dt.timedelta(hours=3),
            "reported_by": "social_services",
            "last_seen_city": fake.city(),
        }
        fields.update(changes)
        return MissingCaseCreate(**fields)

    return build


@pytest.fixture
def row_count(seeded: Store) -> Callable[[type[Any]], int]:
    """Counts the rows of one table in the seeded store."""

    def count(table: type[Any]) -> int:
        with seeded.unit_of_work() as session:
            return session.scalar(sa.select(sa.func.count()).select_from(table)) or 0

    return count
