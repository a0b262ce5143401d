"""Input and output models of registrations on the professional-education platform."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from clearinghouse.education.models import Profession

Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]

# Deliberately loose: one "@", no spaces, a dot in the domain. Deliverability is proven by the confirmation
# e-mail, not by a pattern, and a stricter pattern refuses real addresses.
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def normalise_email(text: str) -> str:
    """The e-mail address as the identity of a registration: trimmed and lower case."""
    return text.strip().lower()


class ProfessionalCreate(BaseModel):
    """A professional registering on the education platform; the e-mail address is the identity."""

    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, StringConstraints(max_length=254)]
    full_name: Text200
    profession: Profession
    organization: Text200
    state_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)] = Field(
        description="Where the professional works: postal abbreviation or name, any case."
    )
    registered_at: AwareDatetime | None = Field(default=None, description="When they registered; now if None.")

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str) -> str:
        email = normalise_email(value)
        if not EMAIL_PATTERN.fullmatch(email):
            raise ValueError(f"expected an e-mail address such as name@example.org, got {value!r}")
        return email


class ProfessionalRead(BaseModel):
    """A registration as a response carries it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str
    profession: Profession
    organization: str
    state_code: str
    registered_at: dt.datetime
    created_at: dt.datetime


class RegistrationRead(BaseModel):
    """The answer to a registration: the record, and whether the e-mail address was already registered."""

    model_config = ConfigDict(from_attributes=True)

    professional: ProfessionalRead
    duplicate: bool
