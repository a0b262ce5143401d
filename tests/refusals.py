"""Checking how a command refuses: its exit code, one line on standard error and no traceback."""

from __future__ import annotations

from typer.testing import Result


def refused(result: Result, code: int, *fragments: str) -> str:
    """The one line a refused command printed, checked: its exit code, no traceback, each fragment named."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]
