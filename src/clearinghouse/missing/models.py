"""Tables of missing-child cases and the events on their timelines."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from clearinghouse.db.base import Base, BigId, CreatedMixin, IdMixin, JSONType, UTCDateTime, utcnow


class CaseCategory(enum.StrEnum):
    """The three categories the state sheet breaks its total into."""

    SOCIAL_SERVICES = "social_services"
    """Missing from the care of a social-services facility (foster or group care)."""
    OTHER = "other"
    """Every other missing-child case."""
    HHS_ORR = "hhs_orr"
    """Reported missing by the federal Office of Refugee Resettlement (unaccompanied children)."""


class CaseType(enum.StrEnum):
    """The detailed case type."""

    ENDANGERED_RUNAWAY = "endangered_runaway"
    FAMILY_ABDUCTION = "family_abduction"
    NONFAMILY_ABDUCTION = "nonfamily_abduction"
    LOST_INJURED_OTHERWISE_MISSING = "lost_injured_otherwise_missing"
    CRITICALLY_MISSING_YOUNG_ADULT = "critically_missing_young_adult"


class CaseStatus(enum.StrEnum):
    """Open while the child is missing; resolved when recovered or otherwise closed."""

    OPEN = "open"
    RESOLVED = "resolved"


class MissingCase(IdMixin, CreatedMixin, Base):
    """A child reported missing, counted in the year and state the case was opened for."""

    __tablename__ = "missing_cases"
    __table_args__ = (
        sa.Index("ix_missing_cases_state_opened", "state_code", "opened_at"),
        # Unique: one case per child's missing episode, even when two intakes of it arrive at once.
        sa.Index("ix_missing_cases_intake_key", "intake_key", unique=True),
    )

    case_number: Mapped[str] = mapped_column(sa.String(24), unique=True)
    state_code: Mapped[str] = mapped_column(sa.ForeignKey("jurisdictions.code"))
    category: Mapped[CaseCategory] = mapped_column(sa.Enum(CaseCategory, native_enum=False, length=16))
    case_type: Mapped[CaseType] = mapped_column(sa.Enum(CaseType, native_enum=False, length=40))
    status: Mapped[CaseStatus] = mapped_column(
        sa.Enum(CaseStatus, native_enum=False, length=10), default=CaseStatus.OPEN
    )
    child_given_name: Mapped[str] = mapped_column(sa.String(100))
    child_family_name: Mapped[str] = mapped_column(sa.String(100))
    child_birth_date: Mapped[dt.date]
    missing_since: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    resolution: Mapped[str | None] = mapped_column(sa.String(60))
    reported_by: Mapped[str] = mapped_column(sa.String(40))
    last_seen_city: Mapped[str | None] = mapped_column(sa.String(100))
    intake_key: Mapped[str] = mapped_column(sa.String(64))
    likely_trafficking: Mapped[bool] = mapped_column(default=False)
    indicators: Mapped[list[str]] = mapped_column(JSONType, default=list)
    reopen_count: Mapped[int] = mapped_column(default=0)


class CaseEvent(Base):
    """One entry on a case's timeline: opened, duplicate intake merged, indicator added, resolved, reopened."""

    __tablename__ = "missing_case_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("missing_cases.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kind: Mapped[str] = mapped_column(sa.String(40))
    actor: Mapped[str] = mapped_column(sa.String(200))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
