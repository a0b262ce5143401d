"""How the application answers what went wrong: XML codes on /ispws, problem JSON on the API, pages elsewhere.

`ErrorMiddleware` is the last line: any exception no handler claimed is logged by its type alone (messages
can quote report content) and answered as code 1000 on /ispws or a problem document elsewhere, so no request
ever gets the server's bare 500 page. `RequestIdMiddleware` gives every response a `Request-ID` header that
platforms quote when they ask about a call, and that our log lines carry.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clearinghouse.errors import validation_message
from clearinghouse.logs import get_logger
from clearinghouse.tipline.wire import error_response, report_response
from clearinghouse.tipline.xmlsafe import ResponseCode, WireError
from clearinghouse.web.auth import Unauthenticated
from clearinghouse.web.bodies import BodyRefused
from clearinghouse.web.signin import SignInRefused

AGENCY_PREFIX = "/api/v1/agency/"
"""Where users (law enforcement), not platforms, sign in."""

XML_MEDIA_TYPE = "text/xml; charset=utf-8"
PROBLEM_MEDIA_TYPE = "application/problem+json"
ISPWS_PREFIX = "/ispws"
REQUEST_ID_HEADER = "Request-ID"
SHOWN_PROBLEMS = 5
"""Most invalid fields a 422 answer's detail describes (`fields` names them all)."""
UNEXPECTED_STATUS = 503
"""HTTP status of a problem document for an unexpected error: the client may retry; never a bare 500."""

log = get_logger("clearinghouse.web")


def is_ispws(path: str) -> bool:
    """Whether the path belongs to the platform interface (answered in its XML)."""
    return path == ISPWS_PREFIX or path.startswith(ISPWS_PREFIX + "/")


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    """An RFC 9457 problem document."""
    content = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(content, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


def _xml(body: bytes, status_code: int = 200) -> Response:
    return Response(content=body, status_code=status_code, media_type=XML_MEDIA_TYPE)


def request_id_of(scope: Scope) -> str:
    """The id given to this request by RequestIdMiddleware."""
    state: dict[str, Any] = scope.setdefault("state", {})
    return str(state.get("request_id", "-"))


class RequestIdMiddleware:
    """Adds a fresh `Request-ID` header to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.lower().encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


class TrailingSlashMiddleware:
    """Serves a path written with a trailing slash (`/ispws/submit/`) as the path without it.

    The router's own answer was a 307 redirect with an empty body: no XML answer for a platform's client, and its
    location is built from the request as the server saw it, so behind a TLS proxy it sent the client, and the
    report it posts again, to plain `http://`.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and len(path) > 1 and path.endswith("/"):
            scope = {**scope, "path": path.rstrip("/") or "/"}
            raw: bytes | None = scope.get("raw_path")
            if raw is not None:
                scope["raw_path"] = raw.rstrip(b"/") or b"/"
        await self.app(scope, receive, send)


class ErrorMiddleware:
    """Turns any exception that escaped the handlers into a proper answer, logged without content."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            # The client went away mid-body (a dropped connection, a cancelled upload): nobody to answer, and
            # nothing failed here. What it sent is not stored, as with any body that does not arrive whole.
            log.info("client went away", path=scope.get("path"), method=scope.get("method"))
        except Exception as error:
            # The type and where, never the message or traceback locals: both can carry report content.
            log.error(
                "unexpected error",
                error=type(error).__name__,
                path=scope.get("path"),
                method=scope.get("method"),
                request_id=request_id_of(scope),
            )
            if started:
                return
            if is_ispws(str(scope.get("path", ""))):
                response: Response = _xml(report_response(code=ResponseCode.SERVER_ERROR))
            else:
                response = problem(UNEXPECTED_STATUS, "Server error", "The request could not be completed.")
            await response(scope, receive, send)


async def _wire_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, WireError)
    return _xml(error_response(error))


async def _unauthenticated(request: Request, error: Exception) -> Response:
    challenge = {"WWW-Authenticate": 'Basic realm="clearinghouse", charset="UTF-8"'}
    if is_ispws(request.url.path):
        return Response(status_code=401, headers=challenge)
    who = (
        "a user's e-mail address and password"
        if request.url.path.startswith(AGENCY_PREFIX)
        else "a platform account's credentials"
    )
    response = problem(401, "Authentication required", f"Send {who} (HTTP Basic).")
    response.headers.update(challenge)
    return response


async def _sign_in_refused(request: Request, error: Exception) -> Response:
    """429 with `Retry-After`: on /ispws a `reportResponse` of code 2000 saying why (a 401 would tell the platform
    its secret is wrong), elsewhere a problem document."""
    assert isinstance(error, SignInRefused)
    wait = {"Retry-After": str(error.wait_seconds)}
    if is_ispws(request.url.path):
        body = report_response(code=ResponseCode.AUTHENTICATION_REQUIRED, description=str(error))
        response = _xml(body, status_code=429)
    else:
        response = problem(429, "Too many failed sign-ins", str(error))
    response.headers.update(wait)
    return response


async def _body_refused(request: Request, error: Exception) -> Response:
    assert isinstance(error, BodyRefused)
    if is_ispws(request.url.path):
        return _xml(report_response(code=ResponseCode.INVALID_REQUEST, description=error.message))
    return problem(error.status, "Request body refused", error.message)


async def _validation_failed(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    fields = [".".join(str(part) for part in item.get("loc", ())) for item in error.errors()]
    if is_ispws(request.url.path):
        description = "invalid request: " + ", ".join(fields)
        return _xml(report_response(code=ResponseCode.INVALID_REQUEST, description=description))
    problems = [f"{field}: {validation_message(item)}" for field, item in zip(fields, error.errors(), strict=True)]
    shown = "; ".join(problems[:SHOWN_PROBLEMS])
    if len(problems) > SHOWN_PROBLEMS:
        shown += f"; and {len(problems) - SHOWN_PROBLEMS} more"
    return problem(422, "Invalid request", shown, fields=fields)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    if is_ispws(request.url.path):
        code = ResponseCode.RESOURCE_NOT_FOUND if error.status_code == 404 else ResponseCode.INVALID_REQUEST
        response = _xml(report_response(code=code, description=str(error.detail)), status_code=error.status_code)
        response.headers.update(error.headers or {})
        return response
    response = problem(error.status_code, str(error.detail), str(error.detail))
    response.headers.update(error.headers or {})
    return response


def install_error_handling(app: FastAPI) -> None:
    """Register the exception handlers and the middlewares (Request-ID outermost)."""
    app.add_exception_handler(WireError, _wire_error)
    app.add_exception_handler(Unauthenticated, _unauthenticated)
    app.add_exception_handler(SignInRefused, _sign_in_refused)
    app.add_exception_handler(BodyRefused, _body_refused)
    app.add_exception_handler(RequestValidationError, _validation_failed)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(TrailingSlashMiddleware)
    app.add_middleware(ErrorMiddleware)
    app.add_middleware(RequestIdMiddleware)
