"""Fixtures for the trafficking tests: a store with the agency directory seeded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from clearinghouse.db.engine import Store
from clearinghouse.geo.agencies import seed_directory
from clearinghouse.geo.models import Agency, AgencyKind


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
