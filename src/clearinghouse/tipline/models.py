"""Tables of tipline reports, their files, and their releases to law enforcement."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from clearinghouse.db.base import Base, BigId, IdMixin, JSONType, UTCDateTime, utcnow

FILENAME_MAX_CHARS = 255
"""Longest file name a file row keeps; every way in refuses a longer one (PostgreSQL would refuse to store it)."""


class IncidentType(enum.StrEnum):
    """The eight incident types, spelled exactly as the platform interface spells them."""

    CHILD_PORNOGRAPHY = "Child Pornography (possession, manufacture, and distribution)"
    CHILD_SEX_TRAFFICKING = "Child Sex Trafficking"
    CHILD_SEX_TOURISM = "Child Sex Tourism"
    CHILD_SEXUAL_MOLESTATION = "Child Sexual Molestation"
    MISLEADING_DOMAIN_NAME = "Misleading Domain Name"
    MISLEADING_WORDS_OR_IMAGES = "Misleading Words or Digital Images on the Internet"
    ONLINE_ENTICEMENT = "Online Enticement of Children for Sexual Acts"
    UNSOLICITED_OBSCENE_MATERIAL = "Unsolicited Obscene Material Sent to a Child"


class ReportSource(enum.StrEnum):
    """Who filed the report."""

    PLATFORM = "platform"
    PUBLIC = "public"


class ReportStatus(enum.StrEnum):
    """Lifecycle: open until finished (irreversible), retracted, or expired unfinished."""

    OPEN = "open"
    FINISHED = "finished"
    RETRACTED = "retracted"
    EXPIRED = "expired"


class Classification(enum.StrEnum):
    """Whether law enforcement has enough to act on (referral) or not (informational)."""

    REFERRAL = "referral"
    INFORMATIONAL = "informational"


class FileKind(enum.StrEnum):
    """What sort of file a report carried (never the file itself)."""

    IMAGE = "image"
    VIDEO = "video"
    OTHER = "other"


class Report(IdMixin, Base):
    """One tipline report: what was reported, where it is believed to have happened, how urgent it is."""

    __tablename__ = "tipline_reports"
    __table_args__ = (
        sa.UniqueConstraint("platform_id", "platform_ref", name="uq_tipline_reports_platform_ref"),
        sa.Index("ix_tipline_reports_received", "received_at"),
        # Partial: processed reports (nearly all) are in neither of the next two, unbundled ones not in the third,
        # so a report filed already processed writes three index entries fewer. A query uses a partial index only
        # when its own conditions include the index's (`processed_at IS NULL`, `bundle_id = ...`).
        sa.Index(
            "ix_tipline_reports_status_changed",
            "status",
            "last_changed_at",
            sqlite_where=sa.text("processed_at IS NULL"),
            postgresql_where=sa.text("processed_at IS NULL"),
        ),
        sa.Index(
            "ix_tipline_reports_queue",
            "status",
            "id",
            sqlite_where=sa.text("processed_at IS NULL"),
            postgresql_where=sa.text("processed_at IS NULL"),
        ),
        sa.Index(
            "ix_tipline_reports_bundle_id",
            "bundle_id",
            sqlite_where=sa.text("bundle_id IS NOT NULL"),
            postgresql_where=sa.text("bundle_id IS NOT NULL"),
        ),
    )

    source: Mapped[ReportSource] = mapped_column(sa.Enum(ReportSource, native_enum=False, length=10))
    platform_id: Mapped[int | None] = mapped_column(sa.ForeignKey("platform_accounts.id"))
    platform_ref: Mapped[str | None] = mapped_column(sa.String(120))
    incident_type: Mapped[IncidentType] = mapped_column(sa.Enum(IncidentType, native_enum=False, length=80))
    status: Mapped[ReportStatus] = mapped_column(
        sa.Enum(ReportStatus, native_enum=False, length=10), default=ReportStatus.OPEN
    )
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    retracted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    incident_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    escalation_reason: Mapped[str | None] = mapped_column(sa.Text)
    annotations: Mapped[list[str] | None] = mapped_column(JSONType)
    body: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    country_code: Mapped[str | None] = mapped_column(sa.String(2))
    state_code: Mapped[str | None] = mapped_column(sa.ForeignKey("jurisdictions.code"))
    location_confidence: Mapped[float | None]
    location_evidence: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    """Every location clue found in the report at intake, in the locate step's terms. While a report opened
    through the platform interface is open, the clues of its document alone; finishing adds its files'."""
    location_rule: Mapped[str | None] = mapped_column(sa.Text)
    """How the locate step decided (which clues, which rule); empty until located."""
    priority: Mapped[int | None] = mapped_column(sa.SmallInteger)
    classification: Mapped[Classification | None] = mapped_column(sa.Enum(Classification, native_enum=False, length=16))
    bundle_id: Mapped[int | None] = mapped_column(BigId)
    file_count: Mapped[int] = mapped_column(default=0)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    """When the pipeline finished with the report; NULL on a finished report means it is still queued."""


class ReportFile(IdMixin, Base):
    """The hashes and description of one file of a report; the content itself is never kept."""

    __tablename__ = "tipline_files"
    __table_args__ = (
        sa.UniqueConstraint("report_id", "file_ref", name="uq_tipline_files_report_file_ref"),
        # (md5, report_id): "seen before?" stays one index range however many reports share a viral file.
        sa.Index("ix_tipline_files_md5_report", "md5", "report_id"),
    )

    # No index of its own: the unique (report_id, file_ref) index starts with it.
    report_id: Mapped[int] = mapped_column(sa.ForeignKey("tipline_reports.id", ondelete="CASCADE"))
    file_ref: Mapped[str] = mapped_column(sa.String(64))
    filename: Mapped[str | None] = mapped_column(sa.String(FILENAME_MAX_CHARS))
    kind: Mapped[FileKind] = mapped_column(sa.Enum(FileKind, native_enum=False, length=8), default=FileKind.OTHER)
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    md5: Mapped[str | None] = mapped_column(sa.String(32))
    sha1: Mapped[str | None] = mapped_column(sa.String(40))
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    pdq: Mapped[str | None] = mapped_column(sa.String(64))
    pdq_quality: Mapped[int | None] = mapped_column(sa.SmallInteger)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    location_evidence: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    """The location clues of ``details``, stored with them; NULL on files described before they were stored."""
    previously_seen: Mapped[bool | None]
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Release(IdMixin, Base):
    """A report made available to one agency. The first release to a state's agency is what its sheet counts."""

    __tablename__ = "tipline_releases"
    __table_args__ = (
        sa.UniqueConstraint("report_id", "agency_id", name="uq_tipline_releases_report_agency"),
        sa.Index("ix_tipline_releases_jurisdiction_report", "jurisdiction_code", "report_id", "released_at"),
    )

    # No index of its own: the unique (report_id, agency_id) index starts with it.
    report_id: Mapped[int] = mapped_column(sa.ForeignKey("tipline_reports.id"))
    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agencies.id"))
    jurisdiction_code: Mapped[str] = mapped_column(sa.ForeignKey("jurisdictions.code"))
    released_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    released_by: Mapped[str] = mapped_column(sa.String(200))
    reason: Mapped[str] = mapped_column(sa.String(200))


class BundleKind(enum.StrEnum):
    """Why reports were grouped: the platform batched them, or their files are the same content."""

    PLATFORM_BATCH = "platform_batch"
    SAME_CONTENT = "same_content"


class Bundle(IdMixin, Base):
    """Reports of one viral item, handled once: the lead report stands for the group (docs/intake.md, Bundling).

    ``Report.bundle_id`` names the bundle of each member, lead included.
    """

    __tablename__ = "tipline_bundles"
    __table_args__ = (sa.Index("ix_tipline_bundles_content", "platform_id", "content_key", "opened_at"),)

    kind: Mapped[BundleKind] = mapped_column(sa.Enum(BundleKind, native_enum=False, length=16))
    platform_id: Mapped[int | None] = mapped_column(sa.ForeignKey("platform_accounts.id"))
    reason: Mapped[str | None] = mapped_column(sa.String(40))
    """The platform's batch reason (``VIRAL_POTENTIAL_MEME``) for a platform batch."""
    content_key: Mapped[str | None] = mapped_column(sa.String(64))
    """SHA-256 of the sorted MD5s of the files, for a same-content bundle."""
    lead_report_id: Mapped[int] = mapped_column(sa.ForeignKey("tipline_reports.id"), unique=True)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    """When the lead report was received; the same-content window runs from here."""
    report_count: Mapped[int] = mapped_column(default=1)
    last_joined_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class BundleRef(Base):
    """A platform report id named by a platform batch, so that the report joins the batch's bundle whenever it
    arrives (before or after the report that named it)."""

    __tablename__ = "tipline_bundle_refs"

    platform_id: Mapped[int] = mapped_column(sa.ForeignKey("platform_accounts.id"), primary_key=True)
    platform_ref: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    bundle_id: Mapped[int] = mapped_column(sa.ForeignKey("tipline_bundles.id"), index=True)
