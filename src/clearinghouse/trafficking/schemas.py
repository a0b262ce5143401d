"""Input and output models of trafficking reports and recovery-service engagements."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from clearinghouse.trafficking.models import EngagementService, EngagementStatus, TraffickingSource

RecordId = Annotated[int, Field(gt=0)]
StateText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]


class TraffickingReportCreate(BaseModel):
    """A report relating to child sex trafficking; ``reference`` makes recording it idempotent."""

    model_config = ConfigDict(extra="forbid")

    reference: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] = Field(
        description="The caller's stable identifier of the report (tipline number, hotline call id, ...)."
    )
    source: TraffickingSource
    state_code: StateText | None = Field(
        default=None, description="Where it happened, if known; taken from the missing case when absent."
    )
    received_at: AwareDatetime
    tipline_report_id: RecordId | None = None
    missing_case_id: RecordId | None = None


class TraffickingReportRead(BaseModel):
    """A trafficking report as a response carries it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    reference: str
    source: TraffickingSource
    state_code: str | None
    received_at: dt.datetime
    tipline_report_id: int | None
    missing_case_id: int | None
    created_at: dt.datetime


class EngagementCreate(BaseModel):
    """Recovery services starting with a social-service agency on one trafficking report."""

    model_config = ConfigDict(extra="forbid")

    trafficking_report_id: RecordId
    agency_id: RecordId
    service: EngagementService
    started_at: AwareDatetime


class EngagementRead(BaseModel):
    """An engagement as a response carries it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    trafficking_report_id: int
    agency_id: int
    service: EngagementService
    status: EngagementStatus
    started_at: dt.datetime
    ended_at: dt.datetime | None
    created_at: dt.datetime
