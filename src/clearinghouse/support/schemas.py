"""Input and output models of supported survivors and families, peer-support contacts and referrals."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from clearinghouse.support.models import ContactChannel, RecipientKind, ReferralStatus

RecordId = Annotated[int, Field(gt=0)]
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
MINUTES_IN_A_DAY = 24 * 60


class RecipientCreate(BaseModel):
    """A survivor or family to support."""

    model_config = ConfigDict(extra="forbid")

    kind: RecipientKind
    display_name: Text200 = Field(description="How staff refer to the person or family (not necessarily legal).")
    state_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)] = Field(
        description="Where the survivor or family lives: postal abbreviation or name, any case."
    )
    missing_case_id: RecordId | None = None


class RecipientRead(BaseModel):
    """A survivor or family as a response carries it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: RecipientKind
    display_name: str
    state_code: str
    missing_case_id: int | None
    created_at: dt.datetime


class PeerContactCreate(BaseModel):
    """One contact between a peer-support volunteer and a survivor or family."""

    model_config = ConfigDict(extra="forbid")

    recipient_id: RecordId
    volunteer_name: Text200
    channel: ContactChannel
    contact_at: AwareDatetime
    minutes: Annotated[int, Field(ge=0, le=MINUTES_IN_A_DAY)] = 0


class PeerContactRead(BaseModel):
    """A peer-support contact as a response carries it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    recipient_id: int
    volunteer_name: str
    channel: ContactChannel
    contact_at: dt.datetime
    minutes: int
    created_at: dt.datetime


class ReferralCreate(BaseModel):
    """A referral of a survivor or family to a mental-health professional."""

    model_config = ConfigDict(extra="forbid")

    recipient_id: RecordId
    provider_name: Text200
    referred_at: AwareDatetime


class ReferralRead(BaseModel):
    """A referral as a response carries it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    recipient_id: int
    provider_name: str
    status: ReferralStatus
    referred_at: dt.datetime
    connected_at: dt.datetime | None
    created_at: dt.datetime
