"""Intake steps shared by the platform interface, the JSON API and the public form, on top of service.py.

These add what the web callers need around the lifecycle verbs: the intake document stored as the report's
body, ownership (a platform touches only its own reports), the kind of an uploaded file, and the location
clues stored when a report is filed, so that the pipeline can locate it.

The clues are computed from the intake models while they are at hand, before the write turn: the document's own
when the report is opened (`report_clues`), each file's when it is described (`file_clues`). Finishing only
gathers them; it computes them again from what is stored (validating the stored documents, the dearest step of
a large report) only for what was stored without them, by a version that did not store them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.orm import Session

from clearinghouse.db.base import table_of
from clearinghouse.errors import ClearinghouseError, NotFound
from clearinghouse.tipline import service
from clearinghouse.tipline.content import UploadDigest
from clearinghouse.tipline.evidence import to_locate_evidence
from clearinghouse.tipline.fastsql import EncodedJSON
from clearinghouse.tipline.filing import body_of, report_clues
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


Clue = dict[str, Any]

_REPORTS = table_of(Report)
_THIS_REPORT = _REPORTS.c.id == sa.bindparam("report_id")
# Built once: building a statement costs more CPU than running it.
_OWNER = sa.select(_REPORTS.c.platform_id).where(_THIS_REPORT)
# What finishing decides from, the clues as the text stored (see `_appended`); on PostgreSQL the row is locked,
# so that no file is described meanwhile (describing one changes the report too).
_FINISHING = (
    sa.select(
        _REPORTS.c.platform_id,
        _REPORTS.c.status,
        _REPORTS.c.opened_at,
        _REPORTS.c.last_changed_at,
        sa.cast(_REPORTS.c.location_evidence, sa.Text).label("clues"),
    )
    .where(_THIS_REPORT)
    .with_for_update()
)
_BODY = sa.select(_REPORTS.c.body).where(_THIS_REPORT)
_FILE_DETAILS = (
    sa.select(ReportFile.file_ref, ReportFile.details)
    .where(ReportFile.report_id == sa.bindparam("report_id"))
    .order_by(ReportFile.id)
)
_FILE_CLUES = _FILE_DETAILS.add_columns(ReportFile.location_evidence)


def _check_owner(*, session: Session, report_id: int, platform_id: int | None) -> None:
    """That this platform opened the report: NotFound if there is none, NotYours if it is another's (reading one
    column, not the report)."""
    found = session.connection().execute(_OWNER, {"report_id": report_id}).first()
    if found is None:
        raise NotFound("report", report_id)
    if found.platform_id != platform_id:
        raise NotYours(report_id)


def file_clues(details: FileDetailsIntake) -> list[Clue]:
    """The location clues of a file's details, as stored with them."""
    return [
        item.model_dump(mode="json", exclude_defaults=True) for item in to_locate_evidence(details.location_evidence())
    ]


def open_report(
    *,
    session: Session,
    intake: ReportIntake,
    body: EncodedJSON,
    clues: EncodedJSON,
    actor: str,
    source: ReportSource,
    platform_id: int | None,
    at: dt.datetime,
) -> Report:
    """Open a report from a validated intake document, its `body_of` and its `report_clues` (made by the caller,
    outside the write turn if it can: for a large report they are the dearest steps)."""
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
        location_evidence=clues,
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
    *, session: Session, details: FileDetailsIntake, clues: list[Clue], platform_id: int, actor: str, at: dt.datetime
) -> ReportFile:
    """Record a platform's `fileDetails` for one of its files, with their `file_clues` (made by the caller,
    outside the write turn)."""
    _check_owner(session=session, report_id=details.report_id, platform_id=platform_id)
    stored = details.model_dump(mode="json", exclude_none=True, exclude_defaults=True, exclude={"report_id", "file_id"})
    return service.set_file_details(
        session=session,
        report_id=details.report_id,
        file_ref=details.file_id,
        details=stored,
        location_evidence=clues,
        actor=actor,
        at=at,
    )


def file_details_of(*, session: Session, report_id: int) -> list[tuple[str, dict[str, Any] | None]]:
    """(file id, details) of each of the report's files, in upload order (plain rows: no ORM objects needed)."""
    return [(file_ref, details) for file_ref, details in session.execute(_FILE_DETAILS, {"report_id": report_id})]


def _stored_report_clues(session: Session, report_id: int) -> str:
    """The clues of a report opened without them, from its stored document (validated again: slow when large)."""
    body = session.connection().execute(_BODY, {"report_id": report_id}).scalar()
    return report_clues(ReportIntake.model_validate(body or {}))


def _stored_file_clues(report_id: int, file_ref: str, stored: dict[str, Any] | None) -> list[Clue]:
    """The clues of a file described without them, from its stored details."""
    if not stored:
        return []
    return file_clues(FileDetailsIntake.model_validate({**stored, "report_id": report_id, "file_id": file_ref}))


def _appended(clues: str, more: list[Clue]) -> str:
    """The JSON array `clues` with `more` appended, as JSON text.

    The report's own clues are not decoded and encoded again: a large report has tens of thousands of them, and
    that would take tens of milliseconds of the write turn.
    """
    if not more:
        return clues
    head = clues.rstrip()[:-1].rstrip()  # without its closing bracket
    tail = orjson.dumps(more).decode()
    return tail if head.endswith("[") else f"{head},{tail[1:]}"


@dataclass(frozen=True, slots=True)
class Filed:
    """A report just finished, with the ids of its files."""

    report: Report
    file_refs: list[str]


def finish(*, session: Session, report_id: int, platform_id: int | None, actor: str, at: dt.datetime) -> Filed:
    """File the report irreversibly and store its location clues, its document's and then each file's in upload
    order; it is then queued for the pipeline."""
    # Plain rows and one UPDATE: no ORM unit of work to track and flush (pending changes are written first).
    session.flush()
    connection = session.connection()
    row = connection.execute(_FINISHING, {"report_id": report_id}).first()
    if row is None:
        raise NotFound("report", report_id)
    if row.platform_id != platform_id:
        raise NotYours(report_id)
    service.check_open(report_id, row.status, row.opened_at, row.last_changed_at, now=at)
    files = connection.execute(_FILE_CLUES, {"report_id": report_id}).all()
    more: list[Clue] = []
    for file_ref, details, stored in files:
        more.extend(stored if stored is not None else _stored_file_clues(report_id, file_ref, details))
    # JSON null too: stored through the ORM by a version that did not store a report's own clues.
    own = row.clues if row.clues not in (None, "null") else None
    clues = None if own is not None and not more else _appended(own or _stored_report_clues(session, report_id), more)
    report = service.finish_report(
        session=session, report_id=report_id, actor=actor, at=at, location_evidence=clues, checked=True
    )
    session.expire(report, ["location_evidence"])  # loaded again if asked for
    return Filed(report=report, file_refs=[file.file_ref for file in files])


def retract(*, session: Session, report_id: int, platform_id: int, actor: str, at: dt.datetime) -> Report:
    """Cancel the platform's open report."""
    _check_owner(session=session, report_id=report_id, platform_id=platform_id)
    return service.retract_report(session=session, report_id=report_id, actor=actor, at=at)


def file_public_report(*, session: Session, intake: ReportIntake, at: dt.datetime) -> Filed:
    """Open and at once finish a report from the public form (source=public)."""
    report = open_report(
        session=session,
        intake=intake,
        body=body_of(intake),
        clues=report_clues(intake),
        actor=PUBLIC_ACTOR,
        source=ReportSource.PUBLIC,
        platform_id=None,
        at=at,
    )
    return finish(session=session, report_id=report.id, platform_id=None, actor=PUBLIC_ACTOR, at=at)
