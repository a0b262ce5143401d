"""Reading the five published 2023 sheets gives every figure exactly, and only North Dakota's has problems."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from clearinghouse.impact.reader import ProblemKind, ReadResult, read_sheet

# In FIGURE_ORDER: reports made available, submissions reviewed, missing total, from social services,
# other, HHS-ORR, trafficking engagements, peer support, mental health, rapid response, new professionals.
EXPECTED: dict[str, tuple[str, tuple[int | None, ...]]] = {
    "NC": ("North Carolina", (24_099, 95, 745, 536, 148, 61, 31, 209, 131, 3, 388)),
    "ND": ("North Dakota", (1_333, 28, 68, 61, 6, 1, None, 8, 7, None, 30)),
    "NY": ("New York", (40_545, 159, 3_005, 2_732, 201, 72, 95, 692, 187, 1, 648)),
    "CA": ("California", (78_835, 185, 1_879, 1_103, 615, 161, 2_028, 699, 484, 3, 715)),
    "AL": ("Alabama", (8_249, 45, 211, 123, 43, 45, 6, 51, 18, 1, 88)),
}
FIGURE_ORDER = (
    "tipline_reports_made_available",
    "vid_submissions_reviewed",
    "missing_total",
    "missing_social_services",
    "missing_other",
    "missing_hhs_orr",
    "trafficking_engagements",
    "peer_support",
    "mental_health_connections",
    "rapid_response_cases",
    "new_professionals",
)
NATIONAL_STATED_2023 = {
    "tipline_reports_received": 36_200_000,
    "tipline_files_received": 105_000_000,
    "children_identified_to_date": 27_130,
    "missing_cases": 28_886,
    "missing_from_social_services": 22_442,
    "likely_trafficking_percent": 19,
    "trafficking_reports": 18_400,
    "peer_support_recipients": 5_759,
    "registered_professionals": 18_000,
    "rapid_response_activations": None,
    "long_term_cases_assisted": None,
}


@pytest.fixture(params=sorted(EXPECTED))
def seed(request: pytest.FixtureRequest, seed_path: Callable[[str], Path]) -> tuple[str, ReadResult]:
    abbr: str = request.param
    return abbr, read_sheet(seed_path(EXPECTED[abbr][0]))


def test_every_seed_is_one_of_the_five(seeds_dir: Path) -> None:
    states = sorted(read_sheet(path).state or "?" for path in seeds_dir.glob("*.txt"))
    assert states == sorted(EXPECTED)


def test_state_and_year(seed: tuple[str, ReadResult]) -> None:
    abbr, result = seed
    assert (result.state, result.state_name, result.year) == (abbr, EXPECTED[abbr][0], 2023)
    assert result.wording == "published"


def test_state_figures_exact(seed: tuple[str, ReadResult]) -> None:
    abbr, result = seed
    assert result.figures.model_dump() == dict(zip(FIGURE_ORDER, EXPECTED[abbr][1], strict=True))


def test_national_figures_as_stated(seed: tuple[str, ReadResult]) -> None:
    abbr, result = seed
    expected = dict(NATIONAL_STATED_2023)
    if abbr == "ND":  # the only sheet that shows the national rapid-response figures, in place of its own
        expected |= {"rapid_response_activations": 57, "long_term_cases_assisted": 146}
    assert result.national.model_dump() == expected


@pytest.mark.parametrize("abbr", ["NC", "NY", "CA", "AL"])
def test_sheets_without_problems(abbr: str, seed_path: Callable[[str], Path]) -> None:
    result = read_sheet(seed_path(EXPECTED[abbr][0]))
    assert result.problems == ()
    state_figures = result.state_figures()
    assert state_figures is not None
    assert state_figures.missing_total == EXPECTED[abbr][1][2]


def test_north_dakota_problems(seed_path: Callable[[str], Path]) -> None:
    result = read_sheet(seed_path("North Dakota"))
    not_stated = {problem.figure for problem in result.problems_of(ProblemKind.NOT_STATED)}
    assert not_stated == {"trafficking_engagements", "rapid_response_cases"}
    (wrong_state,) = result.problems_of(ProblemKind.WRONG_STATE)
    assert wrong_state.figure == "missing_total"
    assert "North Carolina" in wrong_state.message
    assert "North Dakota" in wrong_state.message
    assert "68 cases of missing children" in wrong_state.message
    assert len(result.problems) == 3
    assert result.state_figures() is None  # incomplete: two figures are not stated
