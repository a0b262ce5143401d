"""Tables of responders and of their activations on missing-child cases."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from clearinghouse.db.base import Base, CreatedMixin, IdMixin, UTCDateTime


class ActivationKind(enum.StrEnum):
    """A deployment on a critical incident, or assistance on a long-term case."""

    CRITICAL = "critical"
    LONG_TERM = "long_term"


class ActivationStatus(enum.StrEnum):
    """Requested then active, closed when the work ends, cancelled if it never happened (not counted)."""

    ACTIVE = "active"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class Responder(IdMixin, CreatedMixin, Base):
    """A retired investigator on the rapid-response roster."""

    __tablename__ = "responders"

    full_name: Mapped[str] = mapped_column(sa.String(200))
    home_state: Mapped[str] = mapped_column(sa.ForeignKey("jurisdictions.code"))
    former_service: Mapped[str] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(default=True)


class Activation(IdMixin, CreatedMixin, Base):
    """The team assisting on one missing-child case, at law enforcement's request."""

    __tablename__ = "response_activations"
    __table_args__ = (sa.Index("ix_response_activations_state_activated", "state_code", "activated_at"),)

    missing_case_id: Mapped[int] = mapped_column(sa.ForeignKey("missing_cases.id"), index=True)
    kind: Mapped[ActivationKind] = mapped_column(sa.Enum(ActivationKind, native_enum=False, length=10))
    state_code: Mapped[str] = mapped_column(sa.ForeignKey("jurisdictions.code"))
    requesting_agency_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agencies.id"))
    status: Mapped[ActivationStatus] = mapped_column(
        sa.Enum(ActivationStatus, native_enum=False, length=10), default=ActivationStatus.ACTIVE
    )
    activated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class ActivationResponder(Base):
    """Which responders were deployed on an activation."""

    __tablename__ = "response_activation_responders"

    activation_id: Mapped[int] = mapped_column(sa.ForeignKey("response_activations.id"), primary_key=True)
    responder_id: Mapped[int] = mapped_column(sa.ForeignKey("responders.id"), primary_key=True)
