"""Tables of trafficking reports and recovery-service engagements with social-service agencies."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from clearinghouse.db.base import Base, CreatedMixin, IdMixin, UTCDateTime


class TraffickingSource(enum.StrEnum):
    """Where the clearinghouse learned of the suspected trafficking."""

    TIPLINE = "tipline"
    MISSING_CASE = "missing_case"
    HOTLINE = "hotline"


class EngagementStatus(enum.StrEnum):
    """An engagement is active, completed, or cancelled (a cancelled one is not counted)."""

    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class EngagementService(enum.StrEnum):
    """The recovery services an engagement provides."""

    RECOVERY_PLANNING = "recovery_planning"
    YOUTH_ENGAGEMENT = "youth_engagement"
    MULTIDISCIPLINARY = "multidisciplinary"


class TraffickingReport(IdMixin, CreatedMixin, Base):
    """A report relating to child sex trafficking, whichever way it arrived."""

    __tablename__ = "trafficking_reports"
    __table_args__ = (sa.Index("ix_trafficking_reports_received", "received_at"),)

    reference: Mapped[str] = mapped_column(sa.String(40), unique=True)
    source: Mapped[TraffickingSource] = mapped_column(sa.Enum(TraffickingSource, native_enum=False, length=16))
    state_code: Mapped[str | None] = mapped_column(sa.ForeignKey("jurisdictions.code"))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    tipline_report_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tipline_reports.id"))
    missing_case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("missing_cases.id"))


class Engagement(IdMixin, CreatedMixin, Base):
    """Recovery services given together with one social-service agency on one trafficking case."""

    __tablename__ = "recovery_engagements"
    __table_args__ = (sa.Index("ix_recovery_engagements_agency_started", "agency_id", "started_at"),)

    trafficking_report_id: Mapped[int] = mapped_column(sa.ForeignKey("trafficking_reports.id"), index=True)
    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agencies.id"))
    service: Mapped[EngagementService] = mapped_column(sa.Enum(EngagementService, native_enum=False, length=24))
    status: Mapped[EngagementStatus] = mapped_column(
        sa.Enum(EngagementStatus, native_enum=False, length=10), default=EngagementStatus.ACTIVE
    )
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
