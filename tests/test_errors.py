"""Times at the edge of what Python can convert are refused by name, not with an OverflowError."""

from __future__ import annotations

import datetime as dt

import pytest

from clearinghouse.errors import InputError, require_aware


def test_a_time_that_cannot_be_brought_to_utc_is_refused_by_name() -> None:
    east_of_year_one = dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5)))
    with pytest.raises(InputError, match="out of range") as refused:
        require_aware("at", east_of_year_one)
    assert refused.value.field == "at"
    assert require_aware("at", dt.datetime(2023, 1, 1, tzinfo=dt.UTC)).tzinfo is dt.UTC
