"""The application factory: one FastAPI app serving the platform interface, the JSON API and the public form."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from clearinghouse import __version__
from clearinghouse.config import get_settings
from clearinghouse.db.engine import Store
from clearinghouse.logs import get_logger
from clearinghouse.tipline import agency_api, bulk_api, ispws, json_api, public, service
from clearinghouse.web.context import Limits, WebContext
from clearinghouse.web.errors import install_error_handling
from clearinghouse.web.signin import SignInGuard
from clearinghouse.web.throttle import Throttle, forget_old_uses

log = get_logger("clearinghouse.web")


def sweep_expired(context: WebContext) -> int:
    """Mark open reports past their lifetime as expired (one transaction); returns how many."""
    with context.store.session() as session, context.writing(session):
        return service.expire_stale(session=session, now=context.clock())


def sweep_flood_guard(context: WebContext) -> int:
    """Forget the public form's uses and the failed sign-ins older than the flood guard's window (the longest),
    every address's; returns how many.

    Done whether or not this server guards anything, so that a store once guarded keeps no uses for good.
    """
    with context.store.session() as session, context.writing(session):
        return forget_old_uses(session, now=context.clock())


SWEEPS: tuple[tuple[Callable[[WebContext], int], str], ...] = (
    (sweep_expired, "expired open reports"),
    (sweep_flood_guard, "forgot old uses of the public form and failed sign-ins"),
)
"""What the served application does at every tick, and what it logs when that changed anything."""


def _given(value: int | None, default: int) -> int:
    return default if value is None else value


async def _sweep_forever(context: WebContext) -> None:
    while True:
        await asyncio.sleep(context.expiry_sweep_seconds)
        for sweep, done in SWEEPS:
            try:
                count = await run_in_threadpool(sweep, context)
            except Exception as error:  # a failed sweep is retried at the next tick; the server keeps serving
                log.error("sweep failed", sweep=sweep.__name__, error=type(error).__name__)
                continue
            if count:
                log.info(done, count=count)


def create_app(
    store: Store | None = None,
    *,
    public_reports_per_hour: int | None = None,
    sign_in_failures_per_name: int | None = None,
    sign_in_failures_per_address: int | None = None,
) -> FastAPI:
    """The web application over `store` (default: the configured store, which must already be migrated).

    `public_reports_per_hour`: how many reports the public form takes from one address in an hour, counted in the
    store for every worker together; `sign_in_failures_per_name` and `..._per_address`: how many failed sign-ins
    an address may make in 15 minutes for one name and in all (`web.signin`). Default: the settings'; 0: any number.
    """
    settings = get_settings()
    per_hour = _given(public_reports_per_hour, settings.public_reports_per_hour)
    per_name = _given(sign_in_failures_per_name, settings.sign_in_failures_per_name)
    per_address = _given(sign_in_failures_per_address, settings.sign_in_failures_per_address)
    context = WebContext(
        store=store if store is not None else Store(settings.resolved_database_url),
        limits=Limits(xml_max_bytes=settings.xml_max_bytes),
        public_throttle=Throttle("public report", per_hour, secret=settings.secret_key) if per_hour > 0 else None,
        sign_in_guard=SignInGuard.of(per_name=per_name, per_address=per_address, secret=settings.secret_key),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # What start-up built (modules, mappers, routes, compiled schemas) lives as long as the process: moved out of
        # the collector's sight, a full collection no longer walks it, pausing every request of the worker.
        gc.freeze()
        sweeper = asyncio.create_task(_sweep_forever(context)) if context.expiry_sweep_seconds > 0 else None
        try:
            yield
        finally:
            if sweeper is not None:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper

    app = FastAPI(
        title="Clearinghouse",
        version=__version__,
        summary=(
            "Report intake (the platform interface, the JSON API and the public report form) and law enforcement's"
            " view of the reports made available to it."
        ),
        lifespan=lifespan,
        redirect_slashes=False,  # a trailing slash is served as the path without it (`TrailingSlashMiddleware`)
    )
    app.state.context = context
    install_error_handling(app)
    app.include_router(ispws.router)
    app.include_router(json_api.router)
    app.include_router(public.router)
    app.include_router(bulk_api.router)
    app.include_router(agency_api.router)
    return app
