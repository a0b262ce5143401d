"""Several worker processes serving one port, each listening on a socket of its own (Linux ``SO_REUSEPORT``).

uvicorn's own way to run several workers has them all accept from one shared socket. A burst of new connections
(fifty platform clients starting together, say) then goes mostly to the worker whose event loop wakes first,
because it accepts every connection waiting at that moment: measured, 40 of 50 connections went to one worker,
which did most of the work while the other idled. With a socket each, the kernel spreads new connections over
the workers by their addresses. Everything else is uvicorn's: each worker is a `uvicorn.Server` given its socket.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import time
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from clearinghouse.children import die_with_parent
from clearinghouse.logs import get_logger

CHECK_SECONDS = 0.5
"""How often the parent looks for a worker process that has ended (and starts another in its place)."""
STOP_SECONDS = 30.0
"""How long the workers get to finish the requests in hand once told to stop, before they are killed."""
START_SECONDS = 10.0
"""A worker that ends sooner than this after its start counts as one that could not start."""
FAILED_STARTS = 3
"""Workers in a row that could not start before the parent gives up."""

log = get_logger("clearinghouse.web")


def reuse_port_available() -> bool:
    """Whether this system spreads connections over sockets sharing a port (Linux)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _port_socket(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port) that other sockets of this user may bind too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _worker(options: dict[str, Any], parent: int) -> None:
    """One worker process: uvicorn serving on a listening socket of its own; stops when the parent dies."""
    # SIGTERM: uvicorn's graceful stop, so the requests in hand are answered (their work is committed first).
    die_with_parent(signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the request above was made
        return
    config = uvicorn.Config(**options)
    sock = _port_socket(config.host, config.port)
    uvicorn.Server(config).run(sockets=[sock])


def serve_workers(options: dict[str, Any], workers: int) -> None:
    """Serve with `workers` processes until SIGINT or SIGTERM; `options` are `uvicorn.Config`'s arguments.

    A worker that ends is replaced. One that could not start (uvicorn's start-up failure status, or ending
    within `START_SECONDS` of its start `FAILED_STARTS` times in a row) stops them all, with uvicorn's start-up
    failure status. The parent binds the port first, without listening on it: a port already taken fails at
    once, and no other program can take it while a worker is being replaced.
    """
    reserved = _port_socket(options["host"], options["port"])
    options = {**options, "port": reserved.getsockname()[1]}
    spawn = multiprocessing.get_context("spawn")
    stop_signals: list[int] = []

    def stop(number: int, _frame: FrameType | None) -> None:
        # Only a flag: a handler that took a lock could wait forever for the main thread it interrupted.
        stop_signals.append(number)

    def started() -> tuple[BaseProcess, float]:
        process = spawn.Process(target=_worker, args=(options, os.getpid()), name="clearinghouse-web")
        process.start()
        return process, time.monotonic()

    previous = {number: signal.signal(number, stop) for number in (signal.SIGINT, signal.SIGTERM)}
    processes: list[tuple[BaseProcess, float]] = []
    failed_starts = 0
    try:
        processes = [started() for _ in range(workers)]
        while not stop_signals and failed_starts < FAILED_STARTS:
            time.sleep(CHECK_SECONDS)
            for index, (process, since) in enumerate(processes):
                if process.is_alive() or stop_signals:
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    failed_starts = FAILED_STARTS
                    break
                failed_starts = failed_starts + 1 if time.monotonic() - since < START_SECONDS else 0
                log.warning("a worker process ended; starting another", pid=process.pid, exitcode=process.exitcode)
                processes[index] = started()
    finally:
        for process, _ in processes:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + STOP_SECONDS
        for process, _ in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        reserved.close()
        for number, handler in previous.items():
            signal.signal(number, handler)
    if failed_starts >= FAILED_STARTS:
        log.error("a worker process could not start; stopping")
        raise SystemExit(STARTUP_FAILURE)
