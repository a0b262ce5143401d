"""Input and output models of missing-child cases: what intake accepts, and what a response may carry."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from clearinghouse.missing.indicators import Indicator
from clearinghouse.missing.models import CaseCategory, CaseStatus, CaseType

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Reporter = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class CaseResolution(enum.StrEnum):
    """How a case ended; stored in ``MissingCase.resolution``."""

    RECOVERED = "recovered"
    RETURNED_ON_OWN = "returned_on_own"
    LOCATED_DECEASED = "located_deceased"
    CLOSED_BY_LAW_ENFORCEMENT = "closed_by_law_enforcement"


class MissingCaseCreate(BaseModel):
    """A report of a missing child, as intake receives it."""

    model_config = ConfigDict(extra="forbid")

    state_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)] = Field(
        description="The state the child is missing from: postal abbreviation or name, any case."
    )
    category: CaseCategory
    case_type: CaseType
    child_given_name: Name
    child_family_name: Name
    child_birth_date: dt.date
    missing_since: AwareDatetime
    opened_at: AwareDatetime | None = Field(default=None, description="When opened; now if None.")
    reported_by: Reporter = Field(
        description="Who reported the child missing: parent, guardian, social services, law enforcement, ..."
    )
    last_seen_city: Name | None = None
    indicators: list[Indicator] = Field(default_factory=list)

    @field_validator("child_given_name", "child_family_name", "last_seen_city")
    @classmethod
    def _collapse_spaces(cls, value: str | None) -> str | None:
        # Internal runs of spaces would otherwise make two spellings of one name look different to a reader.
        return None if value is None else " ".join(value.split())

    @field_validator("indicators")
    @classmethod
    def _unique_indicators(cls, value: list[Indicator]) -> list[Indicator]:
        return list(dict.fromkeys(value))


class MissingCaseRead(BaseModel):
    """A case as a response carries it (the intake key stays internal)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    case_number: str
    state_code: str
    category: CaseCategory
    case_type: CaseType
    status: CaseStatus
    child_given_name: str
    child_family_name: str
    child_birth_date: dt.date
    missing_since: dt.datetime
    opened_at: dt.datetime
    resolved_at: dt.datetime | None
    resolution: str | None
    reported_by: str
    last_seen_city: str | None
    likely_trafficking: bool
    indicators: list[str]
    reopen_count: int
    created_at: dt.datetime


class IntakeRead(BaseModel):
    """The answer to an intake: the case, and whether it already existed."""

    model_config = ConfigDict(from_attributes=True)

    case: MissingCaseRead
    duplicate: bool


class CaseEventRead(BaseModel):
    """One entry of a case's timeline."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: int
    at: dt.datetime
    kind: str
    actor: str
    detail: dict[str, Any] | None
