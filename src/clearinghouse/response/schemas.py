"""Input and output models of rapid-response responders and their activations on missing-child cases."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from clearinghouse.response.models import ActivationKind, ActivationStatus

RecordId = Annotated[int, Field(gt=0)]
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ResponderCreate(BaseModel):
    """A retired investigator joining the rapid-response roster."""

    model_config = ConfigDict(extra="forbid")

    full_name: Text200
    home_state: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)] = Field(
        description="Where the responder lives: postal abbreviation or name, any case."
    )
    former_service: Text200 = Field(description="The agency the responder retired from.")


class ResponderRead(BaseModel):
    """A responder as a response carries it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    full_name: str
    home_state: str
    former_service: str
    active: bool
    created_at: dt.datetime


class ActivationCreate(BaseModel):
    """Law enforcement's request for the team on one missing-child case; the state comes from the case."""

    model_config = ConfigDict(extra="forbid")

    missing_case_id: RecordId
    kind: ActivationKind
    activated_at: AwareDatetime
    requesting_agency_id: RecordId | None = None
    responder_ids: list[RecordId] = Field(default_factory=list, description="Responders deployed from the start.")

    @field_validator("responder_ids")
    @classmethod
    def _unique_responders(cls, value: list[int]) -> list[int]:
        return list(dict.fromkeys(value))


class ActivationRead(BaseModel):
    """An activation as a response carries it (its responders: ``service.responders_of``)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    missing_case_id: int
    kind: ActivationKind
    state_code: str
    requesting_agency_id: int | None
    status: ActivationStatus
    activated_at: dt.datetime
    closed_at: dt.datetime | None
    created_at: dt.datetime
