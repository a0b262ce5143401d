"""`POST /api/v1/reports:bulk`: a platform's reports as NDJSON, one `BulkLine` per line (see tipline/bulk.py).

The body is read as it streams in and stored chunk by chunk, each chunk committed before the next is read,
so a large export never sits in memory whole. The answer lists every line: stored now (``accepted``), already
on file under its platform id (``already_on_file``: a retry), or refused, with the line number and each field's
problem. A line is listed as stored only once it is committed: whatever the answer says is stored, is. If the
request stops midway (the body is too large, the store fails, an unexpected error), the problem document carries
the same lists for the lines stored so far, and `not_stored_from_line`: every non-blank line before it is listed,
and none from it on is stored. Sending the whole batch again is always safe.

Authentication is a platform account's HTTP Basic credentials, verified once per process and then cached
(`web.deps.require_platform`: argon2 costs some 50 ms per verification by design).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from clearinghouse.logs import get_logger
from clearinghouse.tipline.bulk import CHUNK_LINES, BulkSummary, parse_chunk, store_chunk
from clearinghouse.tipline.lines import LineSplitter
from clearinghouse.web.auth import PlatformPrincipal
from clearinghouse.web.bodies import BodyRefused, bounded_chunks
from clearinghouse.web.context import WebContext
from clearinghouse.web.deps import ContextDep, PlatformDep
from clearinghouse.web.errors import problem

router = APIRouter(prefix="/api/v1", tags=["Bulk intake"])
log = get_logger("clearinghouse.tipline.bulk")

BULK_MAX_BYTES = 256 * 1024 * 1024
"""Largest bulk body; a larger export is sent as several requests (each line stands alone)."""


def _store_lines(
    context: WebContext, platform: PlatformPrincipal, lines: list[tuple[int, bytes]], summary: BulkSummary
) -> None:
    """Validate and store one chunk of lines in one transaction (run off the event loop)."""

    @contextmanager
    def transaction() -> Iterator[Session]:
        with context.store.session() as session, context.writing(session):
            yield session

    parsed = parse_chunk(lines, context.clock())
    store_chunk(transaction, platform_id=platform.id, actor=platform.actor, parsed=parsed, summary=summary)


class _Progress:
    """Where a request stands: every non-blank line before `next_line` is listed in the summary (stored or
    refused), and none from it on is stored."""

    def __init__(self) -> None:
        self.summary = BulkSummary()
        self.next_line = 1

    def stopped(self, status: int, title: str, why: str, *, retry: bool) -> JSONResponse:
        """The answer of a request stopped midway: what is stored, and from which line nothing is."""
        detail = f"{why}; the lines listed here are stored, none from line {self.next_line} on."
        if retry:
            detail += " Send the batch again: nothing is stored twice."
        return problem(status, title, detail, not_stored_from_line=self.next_line, **self.summary.as_json())


@router.post(
    "/reports:bulk",
    summary="File many finished reports at once (NDJSON)",
    response_description="Every line's outcome: accepted, already on file, or refused with its reasons.",
)
async def bulk_intake(request: Request, platform: PlatformDep, context: ContextDep) -> Response:
    """Store each valid line as a finished report, idempotent on `platform_report_id`; list every line's fate."""
    started = dt.datetime.now(dt.UTC)
    progress = _Progress()
    summary = progress.summary
    splitter = LineSplitter()
    pending: list[tuple[int, bytes]] = []

    async def store(lines: list[tuple[int, bytes]]) -> None:
        await run_in_threadpool(_store_lines, context, platform, lines, summary)
        progress.next_line = lines[-1][0] + 1

    try:
        async for chunk in bounded_chunks(request, BULK_MAX_BYTES):
            pending.extend(splitter.feed(chunk))
            while len(pending) >= CHUNK_LINES:
                lines, pending = pending[:CHUNK_LINES], pending[CHUNK_LINES:]
                await store(lines)
        pending.extend(splitter.finish())
        if pending:
            await store(pending)
    except BodyRefused as error:
        return progress.stopped(error.status, "Request body refused", error.message, retry=False)
    except ClientDisconnect:
        raise  # nobody to answer: the error middleware notes it (the chunks committed before stay stored)
    except SQLAlchemyError as error:
        log.error("bulk intake failed", error=type(error).__name__, platform=platform.username)
        return progress.stopped(503, "Not all saved", "The store failed", retry=True)
    except Exception as error:
        # Only the type is logged: the message of an unexpected error may quote a report.
        log.error("bulk intake stopped", error=type(error).__name__, platform=platform.username)
        return progress.stopped(503, "Not all saved", "An unexpected error stopped the batch", retry=True)
    if not summary.stored and not summary.rejected:
        return problem(400, "No reports", "The body holds no lines: send one JSON report per line (NDJSON).")
    seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
    log.info(
        "bulk intake",
        platform=platform.username,
        accepted=summary.accepted,
        already_on_file=summary.already_on_file,
        rejected=len(summary.rejected),
        seconds=round(seconds, 3),
    )
    return JSONResponse(summary.as_json())
