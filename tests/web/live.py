"""A real HTTP server for tests: uvicorn on 127.0.0.1 and a free port, in a background thread of the test."""

from __future__ import annotations

import io
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import structlog
import uvicorn
from fastapi import FastAPI

from clearinghouse.access.service import create_platform
from clearinghouse.db.engine import Store
from clearinghouse.web.app import create_app
from clearinghouse.web.context import WebContext


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class LiveServer:
    """The running application and where to reach it."""

    app: FastAPI
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ispws(self) -> str:
        """The platform interface's service root (what a platform configures as its base URL)."""
        return f"{self.url}/ispws/"

    @property
    def context(self) -> WebContext:
        context: WebContext = self.app.state.context
        return context


@contextmanager
def serve(app: FastAPI) -> Iterator[LiveServer]:
    """Run `app` with uvicorn until the block ends."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=True, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(app=app, host="127.0.0.1", port=port)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextmanager
def serve_store(store: Store) -> Iterator[LiveServer]:
    """The application over `store`, served."""
    with serve(create_app(store)) as live:
        yield live


def add_platform(store: Store, name: str) -> tuple[str, str]:
    """A new platform account's (username, secret)."""
    with store.unit_of_work() as session:
        issued = create_platform(session=session, name=name)
        return issued.username, issued.secret


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Every log line of the process at DEBUG (stdlib logging and structlog) into one buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    structlog.configure(
        processors=[structlog.processors.add_log_level, structlog.processors.JSONRenderer()],
        logger_factory=structlog.PrintLoggerFactory(file=buffer),
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        cache_logger_on_first_use=False,
    )
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
        structlog.reset_defaults()


def descendants(pid: int) -> list[int]:
    """The processes started by ``pid``, and those they started (Linux ``/proc``)."""
    parents: dict[int, int] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            for line in status.read_text().splitlines():
                if line.startswith("PPid:"):
                    parents[int(status.parent.name)] = int(line.split()[1])
        except (OSError, ValueError):
            continue
    found: list[int] = []
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found += children
        frontier += children
    return found


def all_gone(pids: list[int], timeout: float = 15.0) -> bool:
    """Whether every process of ``pids`` has ended (or is a zombie) within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = []
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
            except (OSError, IndexError):
                continue
            if state != "Z":
                alive.append(pid)
        if not alive:
            return True
        time.sleep(0.1)
    return False
