"""Fixtures for the sheet tests: the published seed sheets (read in place, never copied), sheets to render."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from clearinghouse.impact.figures import NationalFigures, StateFigures, StateSheet
from clearinghouse.impact.places import state_name

SheetFactory = Callable[..., StateSheet]

NATIONAL_2023 = NationalFigures(
    year=2023,
    tipline_reports_received=36_200_000,
    tipline_files_received=105_000_000,
    children_identified_to_date=27_130,
    missing_cases=28_886,
    missing_from_social_services=22_442,
    likely_trafficking_percent=19,
    trafficking_reports=18_400,
    peer_support_recipients=5_759,
    registered_professionals=18_000,
    rapid_response_activations=57,
    long_term_cases_assisted=146,
)


@pytest.fixture
def seeds_dir(shared_dir: Path) -> Path:
    """The published 2023 sheets in ../shared/seeds."""
    return shared_dir / "seeds"


@pytest.fixture
def seed_path(seeds_dir: Path) -> Callable[[str], Path]:
    """The published sheet of a state, found by its title ("North Dakota Data"), not by file name."""

    def find(name: str) -> Path:
        matches = [path for path in sorted(seeds_dir.glob("*.txt")) if f"{name} Data" in path.read_text()]
        assert len(matches) == 1, f"expected one seed sheet titled {name!r}, found {matches}"
        return matches[0]

    return find


@pytest.fixture
def make_sheet() -> SheetFactory:
    """A sheet with North Carolina's 2023 figures, any of them (or the state) replaced by keyword."""

    def make(state: str = "NC", *, national: NationalFigures = NATIONAL_2023, **figures: int) -> StateSheet:
        values: dict[str, int] = {
            "tipline_reports_made_available": 24_099,
            "vid_submissions_reviewed": 95,
            "missing_social_services": 536,
            "missing_other": 148,
            "missing_hhs_orr": 61,
            "trafficking_engagements": 31,
            "peer_support": 209,
            "mental_health_connections": 131,
            "rapid_response_cases": 3,
            "new_professionals": 388,
        }
        values.update(figures)
        name = state_name(state)
        assert name is not None
        return StateSheet(
            state=StateFigures(state=state, state_name=name, year=national.year, **values),
            national=national,
        )

    return make
