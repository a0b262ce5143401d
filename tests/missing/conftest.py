"""Fixtures for the missing-children tests: a store with the directory seeded, and synthetic intakes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from faker import Faker

from clearinghouse.missing.models import CaseCategory, CaseType
from clearinghouse.missing.schemas import MissingCaseCreate

NOW = dt.datetime.now(dt.UTC)


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
