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


SERIES_BANK = "vid-series"
"""The hashing program's bank that analysts' series decisions go into (`victim_id.queue`); created on first use."""


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


class FileCategory(enum.StrEnum):
    """The four series categories the clearinghouse publishes for the files it reviews (docs/matching.md)."""

    IDENTIFIED = "identified_series"
    """In a series whose child has been identified."""
    TRACKED = "tracked_series"
    """In a series being tracked whose child is not yet identified."""
    NOT_DETERMINABLE = "not_determinable"
    """Known content whose child's age or identity, or the act depicted, cannot yet be determined."""
    NO_SERIES = "no_series"
    """No series yet: nothing recognised the file."""


class LinkSource(enum.StrEnum):
    """Who placed a file in a series: the automated review, or an analyst working the queue afterwards."""

    REVIEW = "review"
    ANALYST = "analyst"


class QueueState(enum.StrEnum):
    """Where an unrecognised file stands in the analyst queue."""

    WAITING = "waiting"
    RESOLVED = "resolved"


class SubmissionFile(IdMixin, Base):
    """One file of a submission's manifest: its hashes (never content, never its name) and its review category."""

    __tablename__ = "vid_submission_files"
    __table_args__ = (sa.UniqueConstraint("submission_id", "position", name="uq_vid_submission_files_position"),)

    submission_id: Mapped[int] = mapped_column(sa.ForeignKey("vid_submissions.id"), index=True)
    position: Mapped[int] = mapped_column(doc="1-based order of the file in its manifest.")
    md5: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    sha1: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    sha256: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    pdq: Mapped[str | None] = mapped_column(sa.String(64))
    pdq_quality: Mapped[int | None] = mapped_column(sa.SmallInteger)
    category: Mapped[FileCategory | None] = mapped_column(
        sa.Enum(FileCategory, native_enum=False, length=20), doc="Set by the review; None before it."
    )


class FileSeries(IdMixin, CreatedMixin, Base):
    """A file of a submission found in a series, with the series' category when it was found (kept as it was)."""

    __tablename__ = "vid_file_series"
    __table_args__ = (
        sa.UniqueConstraint("file_id", "series_id", name="uq_vid_file_series_file_series"),
        sa.Index("ix_vid_file_series_found_at", "found_at"),  # the quarterly export selects by when files were found
    )

    file_id: Mapped[int] = mapped_column(sa.ForeignKey("vid_submission_files.id"), index=True)
    series_id: Mapped[int] = mapped_column(sa.ForeignKey("vid_series.id"), index=True)
    category: Mapped[FileCategory] = mapped_column(sa.Enum(FileCategory, native_enum=False, length=20))
    source: Mapped[LinkSource] = mapped_column(sa.Enum(LinkSource, native_enum=False, length=10))
    found_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class QueueItem(IdMixin, Base):
    """An unrecognised file waiting for an analyst, and how the analyst resolved it."""

    __tablename__ = "vid_queue_items"
    __table_args__ = (sa.Index("ix_vid_queue_items_state_queued", "state", "queued_at"),)

    file_id: Mapped[int] = mapped_column(sa.ForeignKey("vid_submission_files.id"), unique=True)
    queued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    state: Mapped[QueueState] = mapped_column(
        sa.Enum(QueueState, native_enum=False, length=10), default=QueueState.WAITING
    )
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(sa.String(200))
    series_id: Mapped[int | None] = mapped_column(sa.ForeignKey("vid_series.id"))
