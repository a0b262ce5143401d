"""Input and output models of law-enforcement submissions, series of imagery and identifications."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from clearinghouse.victim_id.models import SeriesStatus, SubmissionStatus

RecordId = Annotated[int, Field(gt=0)]


class SubmissionCreate(BaseModel):
    """A law-enforcement agency's manifest of hashes for one of its cases (counts only, never content)."""

    model_config = ConfigDict(extra="forbid")

    agency_id: RecordId
    case_number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)] = Field(
        description="The agency's own case number; with the agency it identifies the submission."
    )
    submitted_at: AwareDatetime | None = Field(default=None, description="When it was submitted; now if None.")
    file_count: Annotated[int, Field(ge=0)] = 0


class SubmissionRead(BaseModel):
    """A submission as a response carries it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    agency_id: int
    case_number: str
    submitted_at: dt.datetime
    status: SubmissionStatus
    file_count: int
    review_started_at: dt.datetime | None
    review_completed_at: dt.datetime | None
    created_at: dt.datetime


class SeriesCreate(BaseModel):
    """A series of imagery depicting one child, tracked until the child is identified."""

    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    opened_at: AwareDatetime | None = Field(default=None, description="When the series was opened; now if None.")


class SeriesRead(BaseModel):
    """A series as a response carries it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    status: SeriesStatus
    opened_at: dt.datetime
    created_at: dt.datetime


class IdentificationCreate(BaseModel):
    """A child identified; no name of the child is taken, only when, by whom and under which reference."""

    model_config = ConfigDict(extra="forbid")

    reference: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    identified_at: AwareDatetime
    series_id: RecordId | None = None
    identifying_agency_id: RecordId | None = None


class IdentificationRead(BaseModel):
    """An identification as a response carries it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    reference: str
    identified_at: dt.datetime
    series_id: int | None
    identifying_agency_id: int | None
    created_at: dt.datetime
