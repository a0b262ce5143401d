"""Tables of platform accounts, users and the audit log."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from clearinghouse.db.base import Base, BigId, CreatedMixin, IdMixin, JSONType, UTCDateTime, utcnow


class Role(enum.StrEnum):
    """What a user is allowed to do."""

    ADMIN = "admin"
    ANALYST = "analyst"
    CASE_MANAGER = "case_manager"
    LAW_ENFORCEMENT = "law_enforcement"
    SOCIAL_SERVICES = "social_services"


class PlatformAccount(IdMixin, CreatedMixin, Base):
    """A reporting platform's credentials; only a hash of the secret is kept."""

    __tablename__ = "platform_accounts"

    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    username: Mapped[str] = mapped_column(sa.String(80), unique=True)
    secret_hash: Mapped[str] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(default=True)


class User(IdMixin, CreatedMixin, Base):
    """A person who signs in: clearinghouse staff, an officer, a social worker."""

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    full_name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[Role] = mapped_column(sa.Enum(Role, native_enum=False, length=20))
    agency_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agencies.id"), index=True)
    password_hash: Mapped[str] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(default=True)


class AuditEvent(Base):
    """One read or change of a record: who, what, when. Written in the same transaction as the change."""

    __tablename__ = "audit_events"
    __table_args__ = (sa.Index("ix_audit_events_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(sa.String(200))
    action: Mapped[str] = mapped_column(sa.String(60), index=True)
    subject_type: Mapped[str] = mapped_column(sa.String(60))
    subject_id: Mapped[str] = mapped_column(sa.String(80))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
