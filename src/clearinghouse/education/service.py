"""Registrations of professionals on the education platform, one per e-mail address.

The e-mail address, trimmed and in lower case, is the identity: registering it again returns the stored
registration (``duplicate=True``) and never adds a second row, so the state sheet counts each professional once,
in the state and year of the first registration.

Every function adds to the caller's unit of work and never commits; on any error nothing has been added.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from clearinghouse.access import audit
from clearinghouse.db.base import utcnow
from clearinghouse.education.models import Profession, Professional
from clearinghouse.education.schemas import ProfessionalCreate, normalise_email
from clearinghouse.errors import NotFound, require_aware, require_past
from clearinghouse.validation import check_page as _check_page
from clearinghouse.validation import coerce_enum as _enum
from clearinghouse.validation import require_row
from clearinghouse.validation import state_code as _state_code

SUBJECT = "professional"
MAX_PAGE = 1000

E = TypeVar("E", bound=enum.Enum)


@dataclass(frozen=True, slots=True)
class RegistrationResult:
    """The registration an attempt landed on, and whether the address was already registered."""

    professional: Professional
    duplicate: bool


def _by_email(session: Session, email: str) -> Professional | None:
    return session.scalars(sa.select(Professional).where(Professional.email == normalise_email(email))).first()


def register(*, session: Session, data: ProfessionalCreate, actor: str = audit.SYSTEM) -> RegistrationResult:
    """Register a professional, or return the existing registration of the same e-mail address."""
    state_code = _state_code(session, "state_code", data.state_code)
    registered_at = require_past("registered_at", data.registered_at) if data.registered_at is not None else utcnow()
    email = normalise_email(data.email)
    existing = _by_email(session, email)
    if existing is not None:
        return RegistrationResult(professional=existing, duplicate=True)
    # Two registrations of one address racing on PostgreSQL: the unique constraint refuses the second
    # commit, and the caller's retry lands here as a duplicate.
    professional = Professional(
        email=email,
        full_name=data.full_name,
        profession=data.profession,
        organization=data.organization,
        state_code=state_code,
        registered_at=registered_at,
    )
    session.add(professional)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="registered",
        subject_type=SUBJECT,
        subject_id=professional.id,
        detail={"state_code": state_code, "profession": data.profession.value},
    )
    return RegistrationResult(professional=professional, duplicate=False)


def get(*, session: Session, professional_id: int) -> Professional:
    """The registration with this id."""
    professional = require_row(session, Professional, professional_id, "professional")
    return professional


def get_by_email(*, session: Session, email: str) -> Professional:
    """The registration of this e-mail address (any case)."""
    professional = _by_email(session, email)
    if professional is None:
        raise NotFound("professional", normalise_email(email))
    return professional


def list_professionals(
    *,
    session: Session,
    state_code: str | None = None,
    profession: Profession | str | None = None,
    registered_from: dt.datetime | None = None,
    registered_to: dt.datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[Professional]:
    """Registrations, filtered; ``registered_from`` inclusive, ``registered_to`` exclusive; oldest first."""
    _check_page(limit, offset)
    query = sa.select(Professional)
    if state_code is not None:
        query = query.where(Professional.state_code == _state_code(session, "state_code", state_code))
    if profession is not None:
        query = query.where(Professional.profession == _enum("profession", Profession, profession))
    if registered_from is not None:
        query = query.where(Professional.registered_at >= require_aware("registered_from", registered_from))
    if registered_to is not None:
        query = query.where(Professional.registered_at < require_aware("registered_to", registered_to))
    query = query.order_by(Professional.registered_at, Professional.id).limit(limit).offset(offset)
    return session.scalars(query).all()
