"""Structured logging (structlog) for the whole application; content and personal details never go here."""

from __future__ import annotations

import io
import logging
import sys
from typing import TextIO, cast

import structlog


class _CurrentStderr(io.TextIOBase):
    """Standard error as it is when an event is written, not as it was when logging was configured: a tool or
    test harness that replaces `sys.stderr` (and closes the one it replaced) must not break logging."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure(level: str = "INFO", *, json: bool = False) -> None:
    """Send structured events to standard error at ``level``."""
    # The standard library's logging carries only the libraries' messages (ours go through structlog): their
    # progress notes (Alembic's "Running upgrade ...") stay out of the way below WARNING, unless DEBUG is asked for.
    library_level = (
        logging.DEBUG if level.upper() == "DEBUG" else max(logging.WARNING, logging.getLevelName(level.upper()))
    )
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=library_level)
    logging.getLogger().setLevel(library_level)  # basicConfig sets nothing once the root logger has a handler
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=cast(TextIO, _CurrentStderr())),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    """A logger bound to ``name``."""
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger
