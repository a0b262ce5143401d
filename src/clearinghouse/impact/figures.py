"""The figures a state data sheet carries, as plain values (no tables): the contract between counting,
rendering and reading sheets."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class NationalFigures(BaseModel):
    """The nationwide figures a sheet quotes for context (same year as the state figures)."""

    model_config = ConfigDict(frozen=True)

    year: int
    tipline_reports_received: int = Field(description="Tipline reports received in the year.")
    tipline_files_received: int = Field(description="Files (images, videos, other) in those reports.")
    children_identified_to_date: int = Field(description="Children identified through victim identification.")
    missing_cases: int = Field(description="Missing-child cases opened in the year, nationwide.")
    missing_from_social_services: int = Field(description="Of those, children missing from social services.")
    likely_trafficking_percent: int = Field(
        description="Share (whole per cent) of the social-services cases with likely child sex trafficking."
    )
    trafficking_reports: int = Field(description="Reports relating to child sex trafficking received.")
    peer_support_recipients: int = Field(description="Survivors and families given peer support.")
    registered_professionals: int = Field(description="Professionals registered on the education platform.")
    rapid_response_activations: int = Field(description="Rapid-response activations on critical cases.")
    long_term_cases_assisted: int = Field(description="Long-term missing-child cases the team assisted.")


class StateFigures(BaseModel):
    """One state's figures for one year."""

    model_config = ConfigDict(frozen=True)

    state: str = Field(description="Two-letter postal abbreviation.")
    state_name: str
    year: int
    tipline_reports_made_available: int
    vid_submissions_reviewed: int
    missing_social_services: int
    missing_other: int
    missing_hhs_orr: int
    trafficking_engagements: int
    peer_support: int
    mental_health_connections: int
    rapid_response_cases: int
    new_professionals: int

    @property
    def missing_total(self) -> int:
        """The missing-children total is, by definition, the sum of its three categories."""
        return self.missing_social_services + self.missing_other + self.missing_hhs_orr


STATE_FIGURE_NAMES: tuple[str, ...] = (
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
"""Every state figure in sheet order (the total included)."""


class StateSheet(BaseModel):
    """Everything one sheet shows."""

    model_config = ConfigDict(frozen=True)

    state: StateFigures
    national: NationalFigures
