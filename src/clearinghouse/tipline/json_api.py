"""The JSON API for single reports: the intake model of the platform interface, filed in one request.

`POST /api/v1/reports` takes a `ReportSubmission` (a `ReportIntake` plus the digests of its files, never the
files) and files it finished, so it is queued for the pipeline at once. An optional `platform_report_id`
makes it idempotent: sending the same id again answers the report already filed (200) instead of filing a
second one (201). `GET /api/v1/reports/{id}` tells a platform where one of its own reports stands.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError, model_validator
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clearinghouse.errors import NotFound, validation_message
from clearinghouse.tipline import availability, service
from clearinghouse.tipline.bulk import HOLDS_NUL, NOT_UTF8, holds_nul
from clearinghouse.tipline.filing import FileDigest, FiledReport, file_prepared, prepare
from clearinghouse.tipline.intake import NotYours, file_details_of
from clearinghouse.tipline.lines import BOM
from clearinghouse.tipline.models import FILENAME_MAX_CHARS, FileKind, Report
from clearinghouse.tipline.wire_schemas import IntakeModel, ReportIntake, TooManyEntries, validate_bounded
from clearinghouse.tipline.xmlsafe import ResponseCode
from clearinghouse.web.auth import PlatformPrincipal
from clearinghouse.web.context import WebContext
from clearinghouse.web.deps import ContextDep, DocumentDep, PlatformDep, SessionDep
from clearinghouse.web.errors import problem

router = APIRouter(prefix="/api/v1", tags=["JSON API"])

MAX_FILES = 1000


def _hex(length: int) -> str:
    return f"^[0-9a-fA-F]{{{length}}}$"


class FileDigestIn(IntakeModel):
    """One file of the report, described by its hashes (the content itself is never sent)."""

    kind: Literal["image", "video", "other"] = "other"
    md5: Annotated[str | None, Field(pattern=_hex(32))] = None
    sha1: Annotated[str | None, Field(pattern=_hex(40))] = None
    sha256: Annotated[str | None, Field(pattern=_hex(64))] = None
    pdq: Annotated[str | None, Field(pattern=_hex(64))] = None
    pdq_quality: Annotated[int | None, Field(ge=0, le=100)] = None
    size: Annotated[int | None, Field(ge=0, le=2**63 - 1)] = None
    filename: Annotated[str | None, Field(max_length=FILENAME_MAX_CHARS)] = None

    @model_validator(mode="after")
    def _at_least_one_hash(self) -> FileDigestIn:
        if not (self.md5 or self.sha1 or self.sha256 or self.pdq):
            raise ValueError("a file needs at least one of md5, sha1, sha256 or pdq")
        return self

    def digest(self) -> FileDigest:
        """The filing layer's digest, hex in lower case."""

        def lower(value: str | None) -> str | None:
            return None if value is None else value.lower()

        return FileDigest(
            kind=FileKind(self.kind),
            md5=lower(self.md5),
            sha1=lower(self.sha1),
            sha256=lower(self.sha256),
            pdq=lower(self.pdq),
            pdq_quality=self.pdq_quality,
            size=self.size,
            filename=self.filename,
        )


class ReportSubmission(IntakeModel):
    """A complete report as a platform files it through the JSON API."""

    platform_report_id: Annotated[str | None, Field(min_length=1, max_length=120, pattern=r"\S")] = Field(
        default=None, description="The platform's own id for the report; a repeat with the same id files nothing."
    )
    report: ReportIntake
    files: list[FileDigestIn] = Field(default_factory=list, max_length=MAX_FILES)


class FiledAnswer(BaseModel):
    """What the API answers about a filed report."""

    report_id: int
    status: str
    created: bool
    platform_report_id: str | None = None
    file_ids: list[str] = Field(default_factory=list)


def _invalid(error: ValidationError, body: bytes) -> JSONResponse:
    # The offending values are not echoed back: they may be personal details from the report.
    errors = [
        {"field": ".".join(str(part) for part in item["loc"]) or "(body)", "message": validation_message(item)}
        for item in error.errors(include_url=False, include_input=False)
    ]
    if b"\x00" in body:  # no JSON text holds a NUL byte, UTF-16 text is full of them
        errors.insert(0, {"field": "(body)", "message": NOT_UTF8})
    return _refused(errors)


def _refused(errors: list[dict[str, str]]) -> JSONResponse:
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem(422, "Invalid report", detail, errors=errors)


def _existing(session: Session, platform_id: int, platform_ref: str) -> int | None:
    query = sa.select(Report.id).where(Report.platform_id == platform_id, Report.platform_ref == platform_ref)
    return session.scalar(query)


def _answer(
    session: Session, report_id: int, *, created: bool, platform_ref: str | None, now: dt.datetime
) -> JSONResponse:
    report = service.get_report(session=session, report_id=report_id)
    answer = FiledAnswer(
        report_id=report_id,
        status=service.status_at(report, now).value,
        created=created,
        platform_report_id=platform_ref,
        file_ids=[file_ref for file_ref, _ in file_details_of(session=session, report_id=report_id)],
    )
    return JSONResponse(answer.model_dump(mode="json"), status_code=201 if created else 200)


def _file(
    context: WebContext,
    session: Session,
    platform: PlatformPrincipal,
    submission: ReportSubmission,
    received_at: dt.datetime,
) -> int | None:
    """The new report's id, or None when the platform id was already on file."""
    filed = FiledReport(
        intake=submission.report,
        received_at=received_at,
        platform_ref=submission.platform_report_id,
        files=[file.digest() for file in submission.files],
    )
    # The rows are made before the write turn is taken (on SQLite, every other writer waits while it is held).
    prepared = prepare(filed)
    try:
        with context.writing(session):
            result = file_prepared(session=session, platform_id=platform.id, reports=[prepared], actor=platform.actor)
    except IntegrityError:
        if submission.platform_report_id is None:
            raise
        # Another worker filed the same platform id between our check and our insert: a duplicate after all.
        return None
    return result.created[0] if result.created else None


@router.post("/reports", status_code=201, response_model=FiledAnswer)
def create_report(platform: PlatformDep, body: DocumentDep, session: SessionDep, context: ContextDep) -> Response:
    """File one finished report (JSON `ReportSubmission`); idempotent on `platform_report_id`."""
    body = body.removeprefix(BOM)  # as a bulk line may begin with one
    try:
        submission = validate_bounded(ReportSubmission, body)
    except ValidationError as error:
        return _invalid(error, body)
    except TooManyEntries as error:
        return _refused([{"field": "report", "message": str(error)}])
    if holds_nul(body):
        # Valid JSON, but no store keeps a NUL character in text (PostgreSQL refuses it outright).
        return _refused([{"field": "(body)", "message": HOLDS_NUL}])
    received_at = context.clock()
    too_late = submission.report.incident_after(received_at)
    if too_late is not None:
        return _refused([{"field": "report.incident_at", "message": too_late}])
    ref = submission.platform_report_id
    report_id = _file(context, session, platform, submission, received_at)
    if report_id is not None:
        return _answer(session, report_id, created=True, platform_ref=ref, now=received_at)
    assert ref is not None  # only a platform id can make a submission a duplicate
    existing = _existing(session, platform.id, ref)
    if existing is None:  # pragma: no cover - the duplicate was found a moment ago and reports are never deleted
        return problem(503, "Not saved", "The report could not be saved; send it again.")
    return _answer(session, existing, created=False, platform_ref=ref, now=received_at)


@router.get("/reports/{report_id}", response_model=FiledAnswer)
def get_report(
    report_id: Annotated[int, Path(ge=1, le=2**63 - 1)], platform: PlatformDep, session: SessionDep, context: ContextDep
) -> Response:
    """Where one of the platform's own reports stands (the read is recorded, like every read of a report)."""
    try:
        with context.writing(session):
            report = service.get_report(session=session, report_id=report_id)
            if report.platform_id != platform.id:
                raise NotYours(report_id)
            availability.read_report(session=session, report_id=report_id, reader=platform.actor)
    except NotFound:
        missing = int(ResponseCode.REPORT_DOES_NOT_EXIST)
        return problem(404, "No such report", f"report {report_id} does not exist", code=missing)
    except NotYours as error:
        return problem(403, "Not authorized", str(error), code=int(ResponseCode.NOT_AUTHORIZED))
    return _answer(session, report_id, created=False, platform_ref=report.platform_ref, now=context.clock())
