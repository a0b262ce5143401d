"""Family support: survivors and families, their peer-support contacts and their mental-health referrals.

A referral starts ``referred`` and ends once: ``connected`` (the person reached a professional; this is what the
state sheet counts), ``declined`` by the person, or ``withdrawn`` by the clearinghouse. The table keeps only the
connection time; when a referral was declined or withdrawn is kept in its audit event.

Every function adds to the caller's unit of work and never commits; on any error nothing has been added.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from clearinghouse.access import audit
from clearinghouse.errors import Conflict, InputError, NotFound, require_aware, require_order, require_past
from clearinghouse.missing import service as missing_service
from clearinghouse.support.models import (
    MentalHealthReferral,
    PeerSupportContact,
    Recipient,
    RecipientKind,
    ReferralStatus,
)
from clearinghouse.support.schemas import PeerContactCreate, RecipientCreate, ReferralCreate
from clearinghouse.validation import check_page as _check_page
from clearinghouse.validation import coerce_enum as _enum
from clearinghouse.validation import require_row
from clearinghouse.validation import state_code as _state_code

RECIPIENT = "support_recipient"
CONTACT = "peer_support_contact"
REFERRAL = "mental_health_referral"
MAX_PAGE = 1000

E = TypeVar("E", bound=enum.Enum)


def _existing_recipient(session: Session, recipient_id: int) -> Recipient:
    recipient = session.get(Recipient, recipient_id)
    if recipient is None:
        raise InputError("recipient_id", "no survivor or family has this id", recipient_id)
    return recipient


def register_recipient(*, session: Session, data: RecipientCreate, actor: str = audit.SYSTEM) -> Recipient:
    """Register a survivor or a family to support."""
    state_code = _state_code(session, "state_code", data.state_code)
    if data.missing_case_id is not None:
        try:
            missing_service.get(session=session, case_id=data.missing_case_id)
        except NotFound:
            raise InputError("missing_case_id", "no missing case has this id", data.missing_case_id) from None
    recipient = Recipient(
        kind=data.kind, display_name=data.display_name, state_code=state_code, missing_case_id=data.missing_case_id
    )
    session.add(recipient)
    session.flush()
    detail = {"kind": data.kind.value, "state_code": state_code}
    audit.record(
        session=session,
        actor=actor,
        action="registered",
        subject_type=RECIPIENT,
        subject_id=recipient.id,
        detail=detail,
    )
    return recipient


def get_recipient(*, session: Session, recipient_id: int) -> Recipient:
    """The survivor or family with this id."""
    recipient = require_row(session, Recipient, recipient_id, "support recipient")
    return recipient


def list_recipients(
    *,
    session: Session,
    state_code: str | None = None,
    kind: RecipientKind | str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[Recipient]:
    """Survivors and families, optionally of one state and kind, in registration order."""
    _check_page(limit, offset)
    query = sa.select(Recipient)
    if state_code is not None:
        query = query.where(Recipient.state_code == _state_code(session, "state_code", state_code))
    if kind is not None:
        query = query.where(Recipient.kind == _enum("kind", RecipientKind, kind))
    return session.scalars(query.order_by(Recipient.id).limit(limit).offset(offset)).all()


def record_peer_contact(*, session: Session, data: PeerContactCreate, actor: str = audit.SYSTEM) -> PeerSupportContact:
    """Record one peer-support contact with a survivor or family."""
    contact_at = require_past("contact_at", data.contact_at)
    _existing_recipient(session, data.recipient_id)
    contact = PeerSupportContact(
        recipient_id=data.recipient_id,
        volunteer_name=data.volunteer_name,
        channel=data.channel,
        contact_at=contact_at,
        minutes=data.minutes,
    )
    session.add(contact)
    session.flush()
    detail = {"recipient_id": data.recipient_id, "channel": data.channel.value, "contact_at": contact_at.isoformat()}
    audit.record(
        session=session, actor=actor, action="recorded", subject_type=CONTACT, subject_id=contact.id, detail=detail
    )
    return contact


def get_peer_contact(*, session: Session, contact_id: int) -> PeerSupportContact:
    """The peer-support contact with this id."""
    contact = require_row(session, PeerSupportContact, contact_id, "peer-support contact")
    return contact


def list_peer_contacts(
    *,
    session: Session,
    recipient_id: int | None = None,
    state_code: str | None = None,
    contact_from: dt.datetime | None = None,
    contact_to: dt.datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[PeerSupportContact]:
    """Peer-support contacts, filtered (``state_code`` is the recipient's state); ``contact_to`` exclusive."""
    _check_page(limit, offset)
    query = sa.select(PeerSupportContact)
    if recipient_id is not None:
        query = query.where(PeerSupportContact.recipient_id == recipient_id)
    if state_code is not None:
        code = _state_code(session, "state_code", state_code)
        query = query.join(Recipient, Recipient.id == PeerSupportContact.recipient_id).where(
            Recipient.state_code == code
        )
    if contact_from is not None:
        query = query.where(PeerSupportContact.contact_at >= require_aware("contact_from", contact_from))
    if contact_to is not None:
        query = query.where(PeerSupportContact.contact_at < require_aware("contact_to", contact_to))
    query = query.order_by(PeerSupportContact.contact_at, PeerSupportContact.id).limit(limit).offset(offset)
    return session.scalars(query).all()


def refer(*, session: Session, data: ReferralCreate, actor: str = audit.SYSTEM) -> MentalHealthReferral:
    """Refer a survivor or family to a mental-health professional."""
    referred_at = require_past("referred_at", data.referred_at)
    _existing_recipient(session, data.recipient_id)
    referral = MentalHealthReferral(
        recipient_id=data.recipient_id,
        provider_name=data.provider_name,
        status=ReferralStatus.REFERRED,
        referred_at=referred_at,
    )
    session.add(referral)
    session.flush()
    detail = {"recipient_id": data.recipient_id, "referred_at": referred_at.isoformat()}
    audit.record(
        session=session, actor=actor, action="referred", subject_type=REFERRAL, subject_id=referral.id, detail=detail
    )
    return referral


def get_referral(*, session: Session, referral_id: int) -> MentalHealthReferral:
    """The referral with this id."""
    referral = require_row(session, MentalHealthReferral, referral_id, "mental-health referral")
    return referral


def _settle(
    session: Session, referral_id: int, at: dt.datetime, actor: str, outcome: ReferralStatus, reason: str | None
) -> MentalHealthReferral:
    at = require_past("at", at)
    # Row lock on PostgreSQL so two concurrent outcomes cannot both pass the status check.
    referral = require_row(session, MentalHealthReferral, referral_id, "mental-health referral", lock=True)
    if referral.status is not ReferralStatus.REFERRED:
        now = referral.status.value
        raise Conflict(f"referral {referral.id} is already {now}; only a referred one can become {outcome.value}")
    require_order("referred_at", referral.referred_at, "at", at)
    referral.status = outcome
    if outcome is ReferralStatus.CONNECTED:
        referral.connected_at = at
    detail = {"at": at.isoformat(), "reason": reason}
    audit.record(
        session=session, actor=actor, action=outcome.value, subject_type=REFERRAL, subject_id=referral.id, detail=detail
    )
    return referral


def mark_connected(*, session: Session, referral_id: int, at: dt.datetime, actor: str) -> MentalHealthReferral:
    """Record that the person was connected to the professional at ``at``."""
    return _settle(session, referral_id, at, actor, ReferralStatus.CONNECTED, None)


def decline(
    *, session: Session, referral_id: int, at: dt.datetime, actor: str, reason: str | None = None
) -> MentalHealthReferral:
    """Record that the person declined the referral."""
    return _settle(session, referral_id, at, actor, ReferralStatus.DECLINED, reason)


def withdraw(
    *, session: Session, referral_id: int, at: dt.datetime, actor: str, reason: str | None = None
) -> MentalHealthReferral:
    """Withdraw a referral that has not been connected."""
    return _settle(session, referral_id, at, actor, ReferralStatus.WITHDRAWN, reason)


def list_referrals(
    *,
    session: Session,
    recipient_id: int | None = None,
    state_code: str | None = None,
    status: ReferralStatus | str | None = None,
    connected_from: dt.datetime | None = None,
    connected_to: dt.datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[MentalHealthReferral]:
    """Referrals, filtered (``state_code`` is the recipient's state); ``connected_to`` exclusive."""
    _check_page(limit, offset)
    query = sa.select(MentalHealthReferral)
    if recipient_id is not None:
        query = query.where(MentalHealthReferral.recipient_id == recipient_id)
    if state_code is not None:
        code = _state_code(session, "state_code", state_code)
        query = query.join(Recipient, Recipient.id == MentalHealthReferral.recipient_id).where(
            Recipient.state_code == code
        )
    if status is not None:
        query = query.where(MentalHealthReferral.status == _enum("status", ReferralStatus, status))
    if connected_from is not None:
        query = query.where(MentalHealthReferral.connected_at >= require_aware("connected_from", connected_from))
    if connected_to is not None:
        query = query.where(MentalHealthReferral.connected_at < require_aware("connected_to", connected_to))
    query = query.order_by(MentalHealthReferral.referred_at, MentalHealthReferral.id).limit(limit).offset(offset)
    return session.scalars(query).all()
