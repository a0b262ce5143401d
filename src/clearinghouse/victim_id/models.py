"""Tables of submissions from law enforcement, series of known imagery, and identifications of children."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from clearinghouse.db.base import Base, CreatedMixin, IdMixin, UTCDateTime, utcnow


class SubmissionStatus(enum.StrEnum):
    """A submission is received, reviewed (the review completed), or withdrawn by its agency."""

    RECEIVED = "received"
    IN_REVIEW = "in_review"
    REVIEWED = "reviewed"
    WITHDRAWN = "withdrawn"


class SeriesStatus(enum.StrEnum):
    """Whether the child depicted in a series has been identified."""

    IDENTIFIED = "identified"
    TRACKED = "tracked"


class Submission(IdMixin, CreatedMixin, Base):
    """A manifest of hashes (never content) that an agency sent for one of its cases."""

    __tablename__ = "vid_submissions"
    __table_args__ = (
        sa.UniqueConstraint("agency_id", "case_number", name="uq_vid_submissions_agency_case"),
        sa.Index("ix_vid_submissions_review_completed", "review_completed_at"),
    )

    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agencies.id"), index=True)
    case_number: Mapped[str] = mapped_column(sa.String(80))
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[SubmissionStatus] = mapped_column(
        sa.Enum(SubmissionStatus, native_enum=False, length=12), default=SubmissionStatus.RECEIVED
    )
    file_count: Mapped[int] = mapped_column(default=0)
    review_started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    review_completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Series(IdMixin, CreatedMixin, Base):
    """A series of imagery depicting the same child; the child may or may not be identified yet."""

    __tablename__ = "vid_series"

    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    status: Mapped[SeriesStatus] = mapped_column(
        sa.Enum(SeriesStatus, native_enum=False, length=12), default=SeriesStatus.TRACKED
    )
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Identification(IdMixin, CreatedMixin, Base):
    """The event of a child being identified, with its date; no name of the child is kept here."""

    __tablename__ = "vid_identifications"

    series_id: Mapped[int | None] = mapped_column(sa.ForeignKey("vid_series.id"), index=True)
    identified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    identifying_agency_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agencies.id"))
    reference: Mapped[str] = mapped_column(sa.String(80), unique=True)
