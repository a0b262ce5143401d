"""Fixtures for the rapid-response tests: a seeded store, agencies, synthetic responders and missing cases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from faker import Faker

from clearinghouse.db.engine import Store
from clearinghouse.missing import service as missing_service
from clearinghouse.missing.models import MissingCase
from clearinghouse.missing.schemas import MissingCaseCreate


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
