"""Usage errors (an unknown option or command, a missing argument, a refused choice) are told like every other
refusal: a plain `error:` line on standard error, then where the command's help is; exit code 2, as Click's.
`--help` is still drawn by Rich."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from clearinghouse.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "error", "command"),
    [
        (["db", "upgrade", "--bogus"], "No such option: --bogus", "clearinghouse db upgrade"),
        (["nosuch"], "No such command 'nosuch'.", "clearinghouse"),
        (["sheet", "read"], "Missing argument 'files'.", "clearinghouse sheet read"),
        (["tables"], "Missing option '--year' / '-y'.", "clearinghouse tables"),
        (
            ["--log-level", "LOUD", "db", "current"],
            "Invalid value for '--log-level': 'LOUD' is not one of 'debug', 'info', 'warning', 'error', 'critical'.",
            "clearinghouse",
        ),
        (
            ["vid", "export", "-y", "2023", "-q", "1", "--format", "xml"],
            "Invalid value for '--format' / '-f': 'xml' is not one of 'csv', 'json'.",
            "clearinghouse vid export",
        ),
        (["vid", "queue", "--limit", "0"], "Invalid value for '--limit'", "clearinghouse vid queue"),
    ],
)
def test_a_usage_error_is_one_plain_line_and_where_the_help_is(args: list[str], error: str, command: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    first, second = result.stderr.splitlines()
    assert first.startswith(f"error: {error}"), first
    assert second == f"Try '{command} --help' for help."


def test_help_is_still_drawn_by_rich() -> None:
    result = runner.invoke(app, ["db", "upgrade", "--help"])
    assert result.exit_code == 0
    assert "Usage: clearinghouse db upgrade [OPTIONS]" in result.stdout
    assert "─ Options ─" in result.stdout  # the Rich panel
    assert result.stderr == ""


def test_a_group_without_a_command_prints_its_help() -> None:
    result = runner.invoke(app, ["db"])
    assert result.exit_code == 2
    assert "─ Commands ─" in result.output
    assert "error:" not in result.output


@pytest.mark.parametrize(
    ("args", "repeated"),
    [
        (["x" * 5000], "No such command 'xxxxx"),
        (["tables", "--" + "y" * 5000], "No such option: --yyyyy"),
        (["tables", "--year", "2023", "--format", "z" * 5000], "Invalid value for '--format' / '-f': 'zzzzz"),
    ],
)
def test_a_long_mistyped_value_is_repeated_cut_short(args: list[str], repeated: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    first, second = result.stderr.splitlines()
    assert first.startswith(f"error: {repeated}"), first
    assert "…" in first
    assert len(first) < 200, len(first)
    assert second.startswith("Try 'clearinghouse")
