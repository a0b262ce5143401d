"""`clearinghouse serve`: run the web application with uvicorn."""

from __future__ import annotations

from typing import Annotated, Any

import typer

SERVED_BATCH = 50
"""Reports per pipeline batch beside the server."""
SERVED_NICENESS = 10
"""How much lower the pipeline's CPU priority is than the web workers'."""


def serve_command(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            help="Worker processes, each with its own credential cache (on Linux, and its own listening socket).",
            min=1,
        ),
    ] = 1,
    url: Annotated[
        str | None,
        typer.Option("--url", help="Store URL; default CLEARINGHOUSE_DATABASE_URL or the embedded SQLite file."),
    ] = None,
    timeout_keep_alive: Annotated[
        int, typer.Option("--timeout-keep-alive", help="Seconds an idle keep-alive connection stays open.", min=1)
    ] = 5,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log one line per request (method, path, status).")
    ] = True,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            help="Addresses of the reverse proxies whose X-Forwarded-For names the client (default 127.0.0.1).",
        ),
    ] = None,
    pipeline: Annotated[
        bool,
        typer.Option(
            "--pipeline/--no-pipeline",
            help="Run the tipline pipeline beside the server, taking each report through release as it arrives.",
        ),
    ] = True,
) -> None:
    """Serve the platform interface (/ispws), the JSON API (/api/v1) and the public report form (/report), with
    the tipline pipeline following the queue in a process of its own."""
    import os

    import uvicorn

    from clearinghouse.commandline import open_command_store
    from clearinghouse.tipline.background import BackgroundPipeline
    from clearinghouse.web.workers import reuse_port_available, serve_workers

    # The store must be current before any worker starts (`db upgrade` makes it so; serving never migrates): a
    # missing or older store stops here with one line rather than in every worker.
    store = open_command_store(url)
    store.dispose()
    # Small batches: on SQLite a batch holds the write turn while it decides, and requests wait for it. A lower CPU
    # priority: answering platforms comes first (measured against the same priority: as many reports a second, as
    # low a p99, and the pipeline kept up; docs/intake.md).
    follower = BackgroundPipeline(store.url, batch_size=SERVED_BATCH, niceness=SERVED_NICENESS) if pipeline else None
    if url is not None:
        # Workers build the app from the settings: hand them the same store. One worker builds it in this
        # process, whose settings were read (and kept) before the command ran: they are read again.
        from clearinghouse.config import get_settings

        os.environ["CLEARINGHOUSE_DATABASE_URL"] = url
        get_settings.cache_clear()
    typer.echo(f"serving on http://{host}:{port}/ (platform interface at /ispws, public form at /report)")
    if follower is not None:
        follower.start()
        typer.echo("the tipline pipeline follows the queue in its own process")
    options: dict[str, Any] = {
        "app": "clearinghouse.web.app:create_app",
        "factory": True,
        "host": host,
        "port": port,
        "access_log": access_log,
        "timeout_keep_alive": timeout_keep_alive,
        "log_level": "info",
    }
    if forwarded_allow_ips is not None:
        options["forwarded_allow_ips"] = forwarded_allow_ips
    try:
        if workers > 1 and reuse_port_available():
            serve_workers(options, workers)
        else:
            uvicorn.run(**options, workers=workers)
    finally:
        if follower is not None:
            follower.close()
