"""FastAPI dependencies: the shared context, a store session, the authenticated platform or user, bounded bodies.

They read the shared context from the request rather than depending on `ContextDep`: each nested dependency
costs FastAPI a resolution step on every request, and the platform interface answers thousands a second.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from clearinghouse.access.service import authenticate_platform, authenticate_user
from clearinghouse.web.auth import (
    CredentialCache,
    PlatformPrincipal,
    Unauthenticated,
    UserPrincipal,
    basic_credentials,
)
from clearinghouse.web.bodies import Form, read_bounded, read_form
from clearinghouse.web.context import WebContext
from clearinghouse.web.signin import SignInGuard


def get_context(request: Request) -> WebContext:
    """The application's shared context."""
    context: WebContext = request.app.state.context
    return context


async def _context_dependency(request: Request) -> WebContext:
    # Async on purpose: FastAPI runs a plain-function dependency in the thread pool, a hop per request.
    return get_context(request)


ContextDep = Annotated[WebContext, Depends(_context_dependency)]


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A store session for one request; handlers commit through `context.writing`.

    Opening a session costs no I/O (the connection is taken at the first query), so this runs on the event
    loop instead of taking a thread hop per request.
    """
    session = get_context(request).store.session()
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def _verify(context: WebContext, username: str, secret: str) -> PlatformPrincipal | None:
    with context.store.session() as session:
        account = authenticate_platform(session=session, username=username, secret=secret)
        if account is None:
            return None
        return PlatformPrincipal(id=account.id, username=account.username, name=account.name)


P = TypeVar("P")


async def _principal(
    request: Request, cache: CredentialCache[P], verify: Callable[[WebContext, str, str], P | None]
) -> P:
    """Who the request's Basic credentials open, from ``cache`` or verified (and then cached); else Unauthenticated
    (answered with a 401), or SignInRefused (429) when its address failed too often (`web.signin`)."""
    name, secret = basic_credentials(request.headers.get("authorization"))
    principal = cache.get(name, secret)
    if principal is not None:
        return principal
    context = get_context(request)
    guard = context.sign_in_guard
    if guard is None:
        # argon2 takes tens of milliseconds of CPU: off the event loop.
        principal = await run_in_threadpool(verify, context, name, secret)
    else:
        address = request.client.host if request.client is not None else "unknown"
        async with guard.turn(address):
            # Verified meanwhile by a request of the same credentials that had the turn before this one.
            principal = cache.get(name, secret)
            if principal is not None:
                return principal
            principal = await run_in_threadpool(_guarded, context, guard, verify, name, secret, address)
    if principal is None:
        raise Unauthenticated
    cache.put(name, secret, principal)
    return principal


def _guarded(
    context: WebContext,
    guard: SignInGuard,
    verify: Callable[[WebContext, str, str], P | None],
    name: str,
    secret: str,
    address: str,
) -> P | None:
    """`verify`, unless `address` failed too often (SignInRefused, from reads alone); a failure is counted.

    A failure that cannot be counted is logged and answered as the failure it is, never as an error.
    """
    now = context.clock()
    with context.store.session() as session:
        guard.check(session, name, address, now)
    principal = verify(context, name, secret)
    if principal is None:
        try:
            with context.store.session() as session, context.writing(session):
                guard.count_failure(session, name, address, now)
        except Exception as error:  # the guard's failure must not change the answer
            guard.warn(error)
    return principal


async def require_platform(request: Request) -> PlatformPrincipal:
    """The platform whose Basic credentials the request carries, or Unauthenticated (answered with a 401)."""
    principal = await _principal(request, get_context(request).credentials, _verify)
    request.state.platform = principal.username
    return principal


PlatformDep = Annotated[PlatformPrincipal, Depends(require_platform)]


def _verify_user(context: WebContext, email: str, password: str) -> UserPrincipal | None:
    with context.store.session() as session:
        user = authenticate_user(session=session, email=email, password=password)
        if user is None:
            return None
        return UserPrincipal(id=user.id, email=user.email, password_hash=user.password_hash)


async def require_user(request: Request) -> UserPrincipal:
    """The user whose Basic credentials (e-mail address and password) the request carries, or Unauthenticated."""
    return await _principal(request, get_context(request).user_credentials, _verify_user)


UserDep = Annotated[UserPrincipal, Depends(require_user)]


async def document_body(request: Request) -> bytes:
    """An XML or JSON request document, at most `xml_max_bytes`."""
    return await read_bounded(request, get_context(request).limits.xml_max_bytes)


DocumentDep = Annotated[bytes, Depends(document_body)]


async def small_form(request: Request) -> Form:
    """A small urlencoded or multipart form, at most `form_max_bytes`."""
    return await read_form(request, get_context(request).limits.form_max_bytes)


SmallFormDep = Annotated[Form, Depends(small_form)]


async def upload_form(request: Request) -> Form:
    """A multipart upload, at most `upload_max_bytes`, held in memory."""
    return await read_form(request, get_context(request).limits.upload_max_bytes)


UploadFormDep = Annotated[Form, Depends(upload_form)]
