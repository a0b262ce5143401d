"""Rapid response: the roster of responders, and activations of the team on missing-child cases.

An activation belongs to one missing-child case and takes its state from that case, so it is counted where the
child went missing. It is active until closed (the work ended; counted) or cancelled (it never happened; kept,
not counted). A case has at most one active activation of each kind at a time.

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
from clearinghouse.geo.models import Agency
from clearinghouse.missing import service as missing_service
from clearinghouse.response.models import (
    Activation,
    ActivationKind,
    ActivationResponder,
    ActivationStatus,
    Responder,
)
from clearinghouse.response.schemas import ActivationCreate, ResponderCreate
from clearinghouse.validation import check_page as _check_page
from clearinghouse.validation import coerce_enum as _enum
from clearinghouse.validation import require_row
from clearinghouse.validation import state_code as _state_code

RESPONDER = "responder"
ACTIVATION = "response_activation"
MAX_PAGE = 1000

E = TypeVar("E", bound=enum.Enum)


def add_responder(*, session: Session, data: ResponderCreate, actor: str = audit.SYSTEM) -> Responder:
    """Add a retired investigator to the roster."""
    home_state = _state_code(session, "home_state", data.home_state)
    responder = Responder(
        full_name=data.full_name, home_state=home_state, former_service=data.former_service, active=True
    )
    session.add(responder)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="added",
        subject_type=RESPONDER,
        subject_id=responder.id,
        detail={"home_state": home_state},
    )
    return responder


def get_responder(*, session: Session, responder_id: int) -> Responder:
    """The responder with this id."""
    responder = require_row(session, Responder, responder_id, "responder")
    return responder


def list_responders(
    *,
    session: Session,
    home_state: str | None = None,
    active: bool | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[Responder]:
    """Responders on the roster, optionally of one home state or activity, by name."""
    _check_page(limit, offset)
    query = sa.select(Responder)
    if home_state is not None:
        query = query.where(Responder.home_state == _state_code(session, "home_state", home_state))
    if active is not None:
        query = query.where(Responder.active.is_(active))
    return session.scalars(query.order_by(Responder.full_name, Responder.id).limit(limit).offset(offset)).all()


def _deployable(session: Session, responder_id: int) -> Responder:
    responder = session.get(Responder, responder_id)
    if responder is None:
        raise InputError("responder_id", "no responder has this id", responder_id)
    if not responder.active:
        raise InputError("responder_id", f"responder {responder.full_name!r} is no longer active", responder_id)
    return responder


def activate(*, session: Session, data: ActivationCreate, actor: str) -> Activation:
    """Activate the team on a missing-child case, at law enforcement's request."""
    activated_at = require_past("activated_at", data.activated_at)
    try:
        case = missing_service.get(session=session, case_id=data.missing_case_id)
    except NotFound:
        raise InputError("missing_case_id", "no missing case has this id", data.missing_case_id) from None
    require_order("the case's missing_since", case.missing_since, "activated_at", activated_at)
    if case.resolved_at is not None and case.resolved_at <= activated_at:
        raise Conflict(f"missing case {case.case_number} was resolved at {case.resolved_at.isoformat()}")
    if data.requesting_agency_id is not None:
        agency = session.get(Agency, data.requesting_agency_id)
        if agency is None:
            raise InputError("requesting_agency_id", "no agency has this id", data.requesting_agency_id)
        if not agency.kind.is_law_enforcement:
            problem = f"expected a law-enforcement agency, {agency.name!r} is {agency.kind.value}"
            raise InputError("requesting_agency_id", problem, agency.id)
    responders = [_deployable(session, responder_id) for responder_id in data.responder_ids]
    already = session.scalars(
        sa.select(Activation.id).where(
            Activation.missing_case_id == case.id,
            Activation.kind == data.kind,
            Activation.status == ActivationStatus.ACTIVE,
        )
    ).first()
    if already is not None:
        raise Conflict(f"missing case {case.case_number} already has active {data.kind.value} activation {already}")

    activation = Activation(
        missing_case_id=case.id,
        kind=data.kind,
        state_code=case.state_code,
        requesting_agency_id=data.requesting_agency_id,
        status=ActivationStatus.ACTIVE,
        activated_at=activated_at,
    )
    session.add(activation)
    session.flush()
    session.add_all(ActivationResponder(activation_id=activation.id, responder_id=r.id) for r in responders)
    detail = {
        "missing_case_id": case.id,
        "kind": data.kind.value,
        "activated_at": activated_at.isoformat(),
        "responder_ids": [r.id for r in responders],
    }
    audit.record(
        session=session,
        actor=actor,
        action="activated",
        subject_type=ACTIVATION,
        subject_id=activation.id,
        detail=detail,
    )
    return activation


def get_activation(*, session: Session, activation_id: int) -> Activation:
    """The activation with this id."""
    activation = require_row(session, Activation, activation_id, "activation")
    return activation


def _locked_active(session: Session, activation_id: int) -> Activation:
    # Row lock on PostgreSQL so two concurrent changes cannot both pass the status check.
    activation = require_row(session, Activation, activation_id, "activation", lock=True)
    if activation.status is not ActivationStatus.ACTIVE:
        raise Conflict(f"activation {activation.id} is already {activation.status.value}")
    return activation


def _end(
    session: Session, activation_id: int, at: dt.datetime, actor: str, status: ActivationStatus, reason: str | None
) -> Activation:
    at = require_past("at", at)
    activation = _locked_active(session, activation_id)
    require_order("activated_at", activation.activated_at, "at", at)
    activation.status = status
    activation.closed_at = at
    audit.record(
        session=session,
        actor=actor,
        action=status.value,
        subject_type=ACTIVATION,
        subject_id=activation.id,
        detail={"at": at.isoformat(), "reason": reason},
    )
    return activation


def close_activation(*, session: Session, activation_id: int, at: dt.datetime, actor: str) -> Activation:
    """Close an active activation: the team's work on the case ended at ``at``."""
    return _end(session, activation_id, at, actor, ActivationStatus.CLOSED, None)


def cancel_activation(
    *, session: Session, activation_id: int, at: dt.datetime, actor: str, reason: str | None = None
) -> Activation:
    """Cancel an active activation that did not go ahead; it stays stored and is not counted."""
    return _end(session, activation_id, at, actor, ActivationStatus.CANCELLED, reason)


def assign_responder(*, session: Session, activation_id: int, responder_id: int, actor: str) -> Activation:
    """Deploy one more responder on an active activation; one already deployed changes nothing."""
    activation = _locked_active(session, activation_id)
    responder = _deployable(session, responder_id)
    if session.get(ActivationResponder, (activation.id, responder.id)) is not None:
        return activation
    session.add(ActivationResponder(activation_id=activation.id, responder_id=responder.id))
    audit.record(
        session=session,
        actor=actor,
        action="responder_assigned",
        subject_type=ACTIVATION,
        subject_id=activation.id,
        detail={"responder_id": responder.id},
    )
    return activation


def responders_of(*, session: Session, activation_id: int) -> Sequence[Responder]:
    """The responders deployed on an activation, by name."""
    get_activation(session=session, activation_id=activation_id)
    query = (
        sa.select(Responder)
        .join(ActivationResponder, ActivationResponder.responder_id == Responder.id)
        .where(ActivationResponder.activation_id == activation_id)
        .order_by(Responder.full_name, Responder.id)
    )
    return session.scalars(query).all()


def list_activations(
    *,
    session: Session,
    state_code: str | None = None,
    kind: ActivationKind | str | None = None,
    status: ActivationStatus | str | None = None,
    missing_case_id: int | None = None,
    activated_from: dt.datetime | None = None,
    activated_to: dt.datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[Activation]:
    """Activations, filtered; ``activated_from`` inclusive, ``activated_to`` exclusive; oldest first."""
    _check_page(limit, offset)
    query = sa.select(Activation)
    if state_code is not None:
        query = query.where(Activation.state_code == _state_code(session, "state_code", state_code))
    if kind is not None:
        query = query.where(Activation.kind == _enum("kind", ActivationKind, kind))
    if status is not None:
        query = query.where(Activation.status == _enum("status", ActivationStatus, status))
    if missing_case_id is not None:
        query = query.where(Activation.missing_case_id == missing_case_id)
    if activated_from is not None:
        query = query.where(Activation.activated_at >= require_aware("activated_from", activated_from))
    if activated_to is not None:
        query = query.where(Activation.activated_at < require_aware("activated_to", activated_to))
    query = query.order_by(Activation.activated_at, Activation.id).limit(limit).offset(offset)
    return session.scalars(query).all()
