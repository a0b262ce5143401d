"""How much activity to simulate per state: the seeded states' published figures, the rest of the country in
proportion to its child population and scaled down. These are *input volumes*; outputs are always counted."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

STATE_FIGURES = (
    "tipline_reports_made_available",
    "vid_submissions_reviewed",
    "missing_social_services",
    "missing_other",
    "missing_hhs_orr",
    "trafficking_engagements",
    "peer_support",
    "mental_health_connections",
    "rapid_response_cases",
    "new_professionals",
)


@cache
def calibration() -> dict[str, Any]:
    """The published 2023 figures of the five seeded sheets, national lines, and shaping volumes."""
    text = resources.files("clearinghouse.simulate").joinpath("data/calibration_2023.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def child_population() -> dict[str, int]:
    """Under-18 civilian population of each state and DC in 2023 (Census estimates)."""
    text = resources.files("clearinghouse.simulate").joinpath("data/under18_2023.csv").read_text("utf-8")
    return {row["state"]: int(row["under18"]) for row in csv.DictReader(text.splitlines())}


def published_state_figures() -> dict[str, dict[str, int]]:
    """The seeded states' published figures, by state code."""
    states: dict[str, dict[str, int]] = calibration()["states"]
    return states


@dataclass(frozen=True)
class YearPlan:
    """Per state, the volume of each program's countable activity to simulate; plus national volumes."""

    year: int
    scale: float
    targets: dict[str, dict[str, int]]
    international_reports: int
    unlocated_reports: int
    long_term_cases: int
    critical_activations_elsewhere: int
    identifications_to_date: int
    trafficking_reports_elsewhere: int

    @property
    def seeded_states(self) -> list[str]:
        """States whose volumes are the published figures (exact)."""
        return sorted(published_state_figures())


def _national_volume(name: str) -> int:
    data = calibration()
    national: dict[str, int] = data["national"]
    shaping: dict[str, int] = data["shaping"]
    if name == "tipline_reports_made_available":
        return shaping["us_reports_by_state_total"]
    if name in ("missing_social_services",):
        return national["missing_from_social_services"]
    if name == "missing_other":
        return (national["missing_cases"] - national["missing_from_social_services"]) * 3 // 4
    if name == "missing_hhs_orr":
        return (national["missing_cases"] - national["missing_from_social_services"]) // 4
    if name == "peer_support":
        return national["peer_support_recipients"]
    if name == "rapid_response_cases":
        return shaping["rapid_response_cases_in_states"]
    return shaping[name]


def plan_year(*, year: int = 2023, scale: float = 0.002) -> YearPlan:
    """Volumes for ``year``: seeded states at their published figures, others at ``scale`` of their share."""
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale}")
    seeded = published_state_figures()
    population = child_population()
    others = {state: people for state, people in population.items() if state not in seeded}
    other_people = sum(others.values())
    targets: dict[str, dict[str, int]] = {state: dict(figures) for state, figures in seeded.items()}
    for name in STATE_FIGURES:
        seeded_total = sum(figures[name] for figures in seeded.values())
        remaining = max(_national_volume(name) - seeded_total, 0) * scale
        for state, people in others.items():
            targets.setdefault(state, {})[name] = round(remaining * people / other_people)
    national = calibration()["national"]
    us_located = calibration()["shaping"]["us_reports_by_state_total"]
    return YearPlan(
        year=year,
        scale=scale,
        targets=targets,
        international_reports=round((national["tipline_reports_received"] - us_located) * scale),
        unlocated_reports=round(us_located * 0.2 * scale),
        long_term_cases=max(1, round(national["long_term_cases_assisted"] * max(scale, 0.05))),
        critical_activations_elsewhere=max(1, round(national["rapid_response_activations"] * max(scale, 0.05))),
        identifications_to_date=max(1, round(national["children_identified_to_date"] * max(scale, 0.05))),
        trafficking_reports_elsewhere=round(national["trafficking_reports"] * scale),
    )
