"""Fixtures for the support tests: a store with the directory seeded, and synthetic names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from faker import Faker

from clearinghouse.db.engine import Store
from clearinghouse.geo.agencies import seed_directory


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
def fake() -> Faker:
    """Synthetic people only, reproducible from run to run."""
    faker = Faker("en_US")
    faker.seed_instance(4711)
    return faker
