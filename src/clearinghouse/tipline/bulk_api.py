"""`POST /api/v1/reports:bulk`: a platform's reports as NDJSON, one `BulkLine` per line (see tipline/bulk.py).

The body is read as it streams in and stored chunk by chunk, each chunk committed before the next is read,
so a large export never sits in memory whole. The answer lists every line: stored now (``accepted``), already
on file under its platform id (``already_on_file``: a retry), or refused, with the line number and each field's
problem. A line is listed as stored only once it is committed: whatever the answer says is stored, is. If the
request fails midway (the body is too large, the store fails), the problem document carries the same lists
for the lines stored so far; sending the whole batch again is always safe.

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

from clearinghouse.logs import get_logger
from clearinghouse.tipline.bulk import CHUNK_LINES, BulkSummary, LineSplitter, parse_chunk, store_chunk
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


@router.post(
    "/reports:bulk",
    summary="File many finished reports at once (NDJSON)",
    response_description="Every line's outcome: accepted, already on file, or refused with its reasons.",
)
async def bulk_intake(request: Request, platform: PlatformDep, context: ContextDep) -> Response:
    """Store each valid line as a finished report, idempotent on `platform_report_id`; list every line's fate."""
    started = dt.datetime.now(dt.UTC)
    summary = BulkSummary()
    splitter = LineSplitter()
    pending: list[tuple[int, bytes]] = []
    try:
        async for chunk in bounded_chunks(request, BULK_MAX_BYTES):
            pending.extend(splitter.feed(chunk))
            while len(pending) >= CHUNK_LINES:
                lines, pending = pending[:CHUNK_LINES], pending[CHUNK_LINES:]
                await run_in_threadpool(_store_lines, context, platform, lines, summary)
        pending.extend(splitter.finish())
        if pending:
            await run_in_threadpool(_store_lines, context, platform, pending, summary)
    except BodyRefused as error:
        status = 413 if error.too_large else 400
        return problem(
            status, "Request body refused", f"{error.message}; lines listed here are stored", **summary.as_json()
        )
    except SQLAlchemyError as error:
        log.error("bulk intake failed", error=type(error).__name__, platform=platform.username)
        detail = "The store failed; the lines listed here are stored. Send the batch again: nothing is stored twice."
        return problem(503, "Not all saved", detail, **summary.as_json())
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
