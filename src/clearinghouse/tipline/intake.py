"""Intake steps shared by the platform interface, the JSON API and the public form, on top of service.py.

These add what the web callers need around the lifecycle verbs: the intake document stored as the report's
body, ownership (a platform touches only its own reports), the kind of an uploaded file, and the location
clues computed when a report is filed, so that the pipeline can locate it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from clearinghouse.db.base import table_of
from clearinghouse.errors import ClearinghouseError, NotFound
from clearinghouse.tipline import service
from clearinghouse.tipline.content import UploadDigest
from clearinghouse.tipline.evidence import to_locate_evidence
from clearinghouse.tipline.filing import clues_of
from clearinghouse.tipline.models import FileKind, IncidentType, Report, ReportFile, ReportSource
from clearinghouse.tipline.wire_schemas import FileDetailsIntake, ReportIntake

PUBLIC_ACTOR = "public"
"""Audit actor of reports filed through the public form."""

# Leading bytes of common video containers; the content is never kept, only the kind of file it was.
_VIDEO_SIGNATURES: tuple[tuple[int, bytes], ...] = (
    (4, b"ftyp"),  # MP4, MOV, 3GP
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska, WebM
    (0, b"FLV"),
    (0, b"\x00\x00\x01\xba"),  # MPEG program stream
    (0, b"\x00\x00\x01\xb3"),  # MPEG video
)


_IMAGE_SIGNATURES: tuple[tuple[int, bytes], ...] = (
    (0, b"\x89PNG"),
    (0, b"\xff\xd8\xff"),  # JPEG
    (0, b"GIF8"),
    (8, b"WEBP"),
    (0, b"BM"),
    (0, b"II*\x00"),  # TIFF, little-endian
    (0, b"MM\x00*"),  # TIFF, big-endian
)


def looks_like_image(head: bytes) -> bool:
    """Whether the first bytes of a file announce an image format the hasher decodes."""
    return any(head[offset : offset + len(magic)] == magic for offset, magic in _IMAGE_SIGNATURES)


class NotYours(ClearinghouseError):
    """A platform asked to change or read a report that another platform (or the public) filed."""

    def __init__(self, report_id: int) -> None:
        self.report_id = report_id
        super().__init__(f"report {report_id} was not opened by this platform account")


def file_kind(digest: UploadDigest, head: bytes) -> FileKind:
    """What kind of file an upload was: decoded as an image, recognised as a video, or other."""
    if digest.image_format is not None:
        return FileKind.IMAGE
    is_video = any(head[offset : offset + len(magic)] == magic for offset, magic in _VIDEO_SIGNATURES)
    if is_video or (head[:4] == b"RIFF" and head[8:12] == b"AVI "):
        return FileKind.VIDEO
    return FileKind.OTHER


def body_of(intake: ReportIntake) -> dict[str, Any]:
    """The intake document as stored on the report (the same shape bulk filing stores)."""
    return intake.model_dump(mode="json", exclude_none=True, exclude_defaults=True)


def owned_report(*, session: Session, report_id: int, platform_id: int) -> Report:
    """The report, if this platform opened it: NotFound if there is none, NotYours if it is another's."""
    report = service.get_report(session=session, report_id=report_id)
    if report.platform_id != platform_id:
        raise NotYours(report_id)
    return report


_REPORTS = table_of(Report)
# Built once: building a statement costs more CPU than running it.
_OWNER = sa.select(_REPORTS.c.platform_id).where(_REPORTS.c.id == sa.bindparam("report_id"))
_OWNER_AND_BODY = sa.select(_REPORTS.c.platform_id, _REPORTS.c.body).where(_REPORTS.c.id == sa.bindparam("report_id"))
_SET_CLUES = (
    sa.update(_REPORTS)
    .where(_REPORTS.c.id == sa.bindparam("report_id"))
    .values(location_evidence=sa.bindparam("clues", type_=_REPORTS.c.location_evidence.type))
)
_FILE_DETAILS = (
    sa.select(ReportFile.file_ref, ReportFile.details)
    .where(ReportFile.report_id == sa.bindparam("report_id"))
    .order_by(ReportFile.id)
)


def _check_owner(*, session: Session, report_id: int, platform_id: int | None) -> None:
    """As `owned_report`, reading one column instead of loading the report."""
    found = session.connection().execute(_OWNER, {"report_id": report_id}).first()
    if found is None:
        raise NotFound("report", report_id)
    if found.platform_id != platform_id:
        raise NotYours(report_id)


def open_report(
    *,
    session: Session,
    intake: ReportIntake,
    body: dict[str, Any],
    actor: str,
    source: ReportSource,
    platform_id: int | None,
    at: dt.datetime,
) -> Report:
    """Open a report from a validated intake document and its `body_of` (made by the caller, outside the write
    turn if it can: for a large report it is the dearest step)."""
    return service.open_report(
        session=session,
        incident_type=IncidentType(intake.incident_type.value),
        source=source,
        body=body,
        actor=actor,
        platform_id=platform_id,
        incident_at=intake.incident_at,
        escalation_reason=intake.escalation_reason,
        annotations=[str(annotation) for annotation in intake.annotations],
        at=at,
    )


def add_upload(
    *,
    session: Session,
    report_id: int,
    platform_id: int,
    digest: UploadDigest,
    kind: FileKind,
    actor: str,
    at: dt.datetime,
) -> ReportFile:
    """Attach an uploaded file's digest (never its content) to the platform's open report."""
    _check_owner(session=session, report_id=report_id, platform_id=platform_id)
    return service.add_file(
        session=session,
        report_id=report_id,
        actor=actor,
        kind=kind,
        md5=digest.md5,
        sha1=digest.sha1,
        sha256=digest.sha256,
        pdq=digest.pdq,
        pdq_quality=digest.pdq_quality,
        size=digest.size,
        filename=digest.filename,
        at=at,
    )


def describe_file(
    *, session: Session, details: FileDetailsIntake, platform_id: int, actor: str, at: dt.datetime
) -> ReportFile:
    """Record a platform's `fileDetails` for one of its files."""
    _check_owner(session=session, report_id=details.report_id, platform_id=platform_id)
    stored = details.model_dump(mode="json", exclude_none=True, exclude_defaults=True, exclude={"report_id", "file_id"})
    return service.set_file_details(
        session=session, report_id=details.report_id, file_ref=details.file_id, details=stored, actor=actor, at=at
    )


def file_details_of(*, session: Session, report_id: int) -> list[tuple[str, dict[str, Any] | None]]:
    """(file id, details) of each of the report's files, in upload order (plain rows: no ORM objects needed)."""
    return [(file_ref, details) for file_ref, details in session.execute(_FILE_DETAILS, {"report_id": report_id})]


def _clues_of(
    report_id: int, body: dict[str, Any] | None, files: list[tuple[str, dict[str, Any] | None]]
) -> list[dict[str, object]]:
    clues = clues_of(ReportIntake.model_validate(body or {}))
    for file_ref, stored in files:
        if not stored:
            continue
        details = FileDetailsIntake.model_validate({**stored, "report_id": report_id, "file_id": file_ref})
        clues.extend(
            item.model_dump(mode="json", exclude_defaults=True)
            for item in to_locate_evidence(details.location_evidence())
        )
    return clues


@dataclass(frozen=True, slots=True)
class Filed:
    """A report just finished, with the ids of its files."""

    report: Report
    file_refs: list[str]


def finish(*, session: Session, report_id: int, platform_id: int | None, actor: str, at: dt.datetime) -> Filed:
    """File the report irreversibly and store its location clues; it is then queued for the pipeline."""
    held = session.identity_map.get(identity_key(Report, report_id))
    if held is not None:
        owner, body = held.platform_id, held.body
    else:
        row = session.connection().execute(_OWNER_AND_BODY, {"report_id": report_id}).first()
        if row is None:
            raise NotFound("report", report_id)
        owner, body = row.platform_id, row.body
    if owner != platform_id:
        raise NotYours(report_id)
    # Plain rows and one UPDATE per change: no ORM unit of work to track and flush.
    files = file_details_of(session=session, report_id=report_id)
    report = service.finish_report(session=session, report_id=report_id, actor=actor, at=at)
    clues = _clues_of(report_id, body, files)
    session.connection().execute(_SET_CLUES, {"report_id": report_id, "clues": clues})
    set_committed_value(report, "location_evidence", clues)
    return Filed(report=report, file_refs=[file_ref for file_ref, _ in files])


def retract(*, session: Session, report_id: int, platform_id: int, actor: str, at: dt.datetime) -> Report:
    """Cancel the platform's open report."""
    owned_report(session=session, report_id=report_id, platform_id=platform_id)
    return service.retract_report(session=session, report_id=report_id, actor=actor, at=at)


def file_public_report(*, session: Session, intake: ReportIntake, at: dt.datetime) -> Filed:
    """Open and at once finish a report from the public form (source=public)."""
    report = open_report(
        session=session,
        intake=intake,
        body=body_of(intake),
        actor=PUBLIC_ACTOR,
        source=ReportSource.PUBLIC,
        platform_id=None,
        at=at,
    )
    return finish(session=session, report_id=report.id, platform_id=None, actor=PUBLIC_ACTOR, at=at)
