"""The platform interface, wire-compatible: the calls a reporting platform's existing client makes, under /ispws.

Every answer is a schema-valid `reportResponse` (or `reportDoneResponse` for /finish) with HTTP 200, the
response code telling success from refusal, because the interface's clients read the code, not the HTTP
status. The exceptions are a failed authentication (HTTP 401, empty body), an unknown path (404, code 1210)
and a wrong method (405, code 4000). Refusals map as follows:

- 4000 invalid request: over-long bodies, DTDs and entity tricks, a wrong root, a missing or non-numeric `id`,
  an upload without exactly one file, a value the schema admits but intake refuses (a time out of range, an
  incident after the report, too many repeated elements); 4100 schema refusals; 4110 malformed XML (see
  xmlsafe.py);
- 4200 malformed file: an empty upload;
- 5001 the report does not exist (or expired unfinished), 5002 the file does not exist in that report,
  5101 already retracted, 5102 already finished;
- 3300 the report belongs to another platform account (or to the public form);
- 1100, 1110 and 1300 when the store fails to save a submission, an upload or an update; 1000 for anything
  unexpected (the application's error middleware answers that one).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.exc import SQLAlchemyError

from clearinghouse.errors import InputError, NotFound
from clearinghouse.logs import get_logger
from clearinghouse.tipline import filing, intake
from clearinghouse.tipline.content import UploadDigest, hash_upload
from clearinghouse.tipline.fastsql import EncodedJSON
from clearinghouse.tipline.models import FILENAME_MAX_CHARS, FileKind, ReportSource
from clearinghouse.tipline.service import ReportStateError
from clearinghouse.tipline.wire import parse_file_details, parse_report, report_done_response, report_response
from clearinghouse.tipline.wire_schemas import FileDetailsIntake, ReportIntake
from clearinghouse.tipline.xmlsafe import ResponseCode, WireError, schema_bytes
from clearinghouse.validation import is_ascii_number
from clearinghouse.web.auth import PlatformPrincipal
from clearinghouse.web.bodies import Form, Part
from clearinghouse.web.context import INLINE_MAX_BYTES, WebContext
from clearinghouse.web.deps import (
    PlatformDep,
    document_body,
    get_context,
    require_platform,
    small_form,
    upload_form,
)

XML_MEDIA_TYPE = "text/xml; charset=utf-8"
PREFIX = "/ispws"

router = APIRouter(prefix=PREFIX, tags=["platform interface"])
log = get_logger(__name__)


def xml(body: bytes, status_code: int = 200) -> Response:
    """An XML answer of the interface."""
    return Response(content=body, status_code=status_code, media_type=XML_MEDIA_TYPE)


@contextmanager
def refusals(failure: ResponseCode) -> Iterator[None]:
    """Service errors as the interface's response codes; a store failure as `failure` (logged, without content)."""
    try:
        yield
    except ReportStateError as error:
        raise WireError(ResponseCode(error.code), str(error)) from None
    except intake.NotYours as error:
        raise WireError(ResponseCode.NOT_AUTHORIZED_TO_UPDATE, str(error)) from None
    except NotFound as error:
        code = ResponseCode.FILE_DOES_NOT_EXIST if error.kind == "file" else ResponseCode.REPORT_DOES_NOT_EXIST
        raise WireError(code, str(error)) from None
    except InputError as error:
        raise WireError(ResponseCode.INVALID_REQUEST, str(error)) from None
    except SQLAlchemyError as error:
        log.error("store failure", error=type(error).__name__, answered=int(failure))
        raise WireError(failure, failure.default_description) from None


def form_report_id(form: Form, request: Request) -> int:
    """The `id` form field (or, from lenient clients, query parameter) as a report id."""
    value = form.fields.get("id") or request.query_params.get("id")
    if value is None or not value.strip():
        raise WireError(ResponseCode.INVALID_REQUEST, "the form field 'id' (the report id) is missing")
    text = value.strip()
    if not is_ascii_number(text) or len(text) > 18:
        raise WireError(ResponseCode.INVALID_REQUEST, f"the form field 'id' must be a report id, got {text[:40]!r}")
    return int(text)


@router.get("/status")
async def status(platform: PlatformDep) -> Response:
    """Code 0 when the credentials work."""
    return xml(report_response())


@router.get("/xsd")
async def xsd(platform: PlatformDep) -> Response:
    """The schema every request document is validated against."""
    return xml(schema_bytes())


def _parse_submission(body: bytes, max_bytes: int) -> tuple[ReportIntake, EncodedJSON, EncodedJSON]:
    """The report document, the body stored for it and its location clues (both as the JSON text stored)."""
    report_intake = parse_report(body, max_bytes=max_bytes)
    return report_intake, filing.body_of(report_intake), filing.report_clues(report_intake)


def _submit(
    context: WebContext,
    platform: PlatformPrincipal,
    report_intake: ReportIntake,
    body: EncodedJSON,
    clues: EncodedJSON,
) -> Response:
    with refusals(ResponseCode.SAVE_FAILED), context.write_session() as session:
        report = intake.open_report(
            session=session,
            intake=report_intake,
            body=body,
            clues=clues,
            actor=platform.actor,
            source=ReportSource.PLATFORM,
            platform_id=platform.id,
            at=context.clock(),
        )
    return xml(report_response(report_id=report.id))


# The lifecycle calls authenticate and read their bodies by calling those dependencies themselves, in the order
# FastAPI would (credentials first): resolving declared dependencies costs FastAPI more CPU per call than the
# store's work, and these calls come thousands a second. Documents are parsed and validated, and their location
# clues found, before the write work is queued (`WebContext.write`), which opens its own store session: on SQLite
# the writes take turns, and nothing that needs no turn should lengthen one.


@router.post("/submit")
async def submit(request: Request) -> Response:
    """Open a report from a `report` document; answers its new reportId."""
    platform = await require_platform(request)
    body = await document_body(request)
    context = get_context(request)
    parse = partial(_parse_submission, body, context.limits.xml_max_bytes)
    report_intake, stored, clues = await context.run(parse, heavy=len(body) > INLINE_MAX_BYTES)
    too_late = report_intake.incident_after(context.clock())
    if too_late is not None:
        raise WireError(ResponseCode.INVALID_REQUEST, f"/report/incidentSummary/incidentDateTime: {too_late}")
    return await context.write(partial(_submit, context, platform, report_intake, stored, clues))


def upload_filename(part: Part) -> str | None:
    """The file name the upload gave, if any; one no store keeps (a NUL, or too long) is refused by name rather
    than failing the store's write (1110 on PostgreSQL) or being kept as sent (SQLite)."""
    name = part.filename or None
    if name is None:
        return None
    if "\x00" in name:
        raise WireError(ResponseCode.INVALID_REQUEST, "the file name holds a NUL character, which is never stored")
    if len(name) > FILENAME_MAX_CHARS:
        message = f"the file name is {len(name)} characters long; at most {FILENAME_MAX_CHARS} are accepted"
        raise WireError(ResponseCode.INVALID_REQUEST, message)
    return name


def _digest(content: bytes, filename: str | None) -> tuple[UploadDigest, FileKind]:
    digest = hash_upload(content, filename)
    return digest, intake.file_kind(digest, content[:16])


def _record_upload(
    context: WebContext,
    platform: PlatformPrincipal,
    report_id: int,
    digest: UploadDigest,
    kind: FileKind,
) -> Response:
    with refusals(ResponseCode.UPLOAD_FAILED), context.write_session() as session:
        file = intake.add_upload(
            session=session,
            report_id=report_id,
            platform_id=platform.id,
            digest=digest,
            kind=kind,
            actor=platform.actor,
            at=context.clock(),
        )
    return xml(report_response(report_id=report_id, file_id=file.file_ref, md5=digest.md5))


@router.post("/upload")
async def upload(request: Request) -> Response:
    """Hash one file in memory and attach its digest to an open report; answers fileId and the MD5."""
    platform = await require_platform(request)
    form = await upload_form(request)
    context = get_context(request)
    report_id = form_report_id(form, request)
    if len(form.files) != 1 or form.files[0].name != "file":
        raise WireError(ResponseCode.INVALID_REQUEST, "an upload carries exactly one file, in the form field 'file'")
    part = form.files.pop()
    filename = upload_filename(part)
    if not part.data:
        raise WireError(ResponseCode.MALFORMED_FILE, "the uploaded file is empty")
    content = bytes(part.data)
    part.data.clear()
    # Decoding an image can take long whatever its size in bytes; small non-images hash in microseconds.
    heavy = len(content) > INLINE_MAX_BYTES or intake.looks_like_image(content[:16])
    digest, kind = await context.run(partial(_digest, content, filename), heavy=heavy)
    # The content is dropped here: from now on only its digest exists.
    del content
    return await context.write(partial(_record_upload, context, platform, report_id, digest, kind))


def _parse_file_details(body: bytes, max_bytes: int) -> tuple[FileDetailsIntake, list[intake.Clue]]:
    """The file details document and its location clues."""
    details = parse_file_details(body, max_bytes=max_bytes)
    return details, intake.file_clues(details)


def _fileinfo(
    context: WebContext, platform: PlatformPrincipal, details: FileDetailsIntake, clues: list[intake.Clue]
) -> Response:
    with refusals(ResponseCode.UPDATE_FAILED), context.write_session() as session:
        file = intake.describe_file(
            session=session,
            details=details,
            clues=clues,
            platform_id=platform.id,
            actor=platform.actor,
            at=context.clock(),
        )
    return xml(report_response(report_id=details.report_id, file_id=file.file_ref))


@router.post("/fileinfo")
async def fileinfo(request: Request) -> Response:
    """Record a `fileDetails` document about an uploaded file."""
    platform = await require_platform(request)
    body = await document_body(request)
    context = get_context(request)
    parse = partial(_parse_file_details, body, context.limits.xml_max_bytes)
    details, clues = await context.run(parse, heavy=len(body) > INLINE_MAX_BYTES)
    return await context.write(partial(_fileinfo, context, platform, details, clues))


def _finish(context: WebContext, platform: PlatformPrincipal, report_id: int) -> Response:
    with refusals(ResponseCode.UPDATE_FAILED), context.write_session() as session:
        filed = intake.finish(
            session=session, report_id=report_id, platform_id=platform.id, actor=platform.actor, at=context.clock()
        )
    return xml(report_done_response(report_id=report_id, file_ids=filed.file_refs))


@router.post("/finish")
async def finish(request: Request) -> Response:
    """File the report, irreversibly; answers the reportDoneResponse listing its files."""
    platform = await require_platform(request)
    form = await small_form(request)
    context = get_context(request)
    report_id = form_report_id(form, request)
    return await context.write(partial(_finish, context, platform, report_id))


def _retract(context: WebContext, platform: PlatformPrincipal, report_id: int) -> Response:
    with refusals(ResponseCode.UPDATE_FAILED), context.write_session() as session:
        intake.retract(
            session=session, report_id=report_id, platform_id=platform.id, actor=platform.actor, at=context.clock()
        )
    return xml(report_response(report_id=report_id))


@router.post("/retract")
async def retract(request: Request) -> Response:
    """Cancel an open report."""
    platform = await require_platform(request)
    form = await small_form(request)
    context = get_context(request)
    report_id = form_report_id(form, request)
    return await context.write(partial(_retract, context, platform, report_id))
