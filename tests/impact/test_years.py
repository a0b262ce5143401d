"""The year every command that publishes figures is asked for: a year that has not begun has nothing to count,
and its "to date" figures would be read as the end of a year nobody has seen, so it is refused; the current
year and every past one are counted."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clearinghouse.cli import app
from clearinghouse.db.engine import Store
from tests.refusals import refused

runner = CliRunner()

COMMANDS = {
    "sheet render": ["sheet", "render", "NC"],
    "sheet all": ["sheet", "all", "--format", "json"],
    "tables": ["tables", "--table", "bundles"],
    "vid tables": ["vid", "tables"],
    "vid export": ["vid", "export", "--quarter", "1"],
}


def _outputs(command: str, tmp_path: Path) -> list[str]:
    return ["--out", str(tmp_path / "sheets")] if command == "sheet all" else []


@pytest.mark.parametrize("command", COMMANDS)
def test_a_year_that_has_not_begun_is_refused(seeded: Store, tmp_path: Path, command: str) -> None:
    next_year = str(dt.datetime.now(dt.UTC).year + 1)
    arguments = [*COMMANDS[command], "--year", next_year, "--url", seeded.url, *_outputs(command, tmp_path)]
    refused(runner.invoke(app, arguments), 2, f"--year {next_year}", "has not begun")
    assert not (tmp_path / "sheets").exists()


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("year", ["1900", str(dt.datetime.now(dt.UTC).year)])
def test_the_current_year_and_past_ones_are_counted(seeded: Store, tmp_path: Path, command: str, year: str) -> None:
    arguments = [*COMMANDS[command], "--year", year, "--url", seeded.url, *_outputs(command, tmp_path)]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 0, result.output


def test_a_sheet_and_tables_of_the_current_year_say_it_is_not_over(seeded: Store) -> None:
    def note() -> str:
        today = dt.datetime.now(dt.UTC)
        return f"{today.year} is not over: these figures count its records up to {today.day} {today:%B}."

    today = dt.datetime.now(dt.UTC)
    for arguments in (["sheet", "render", "GU"], ["tables"], ["vid", "tables"]):
        before = note()
        current = runner.invoke(app, [*arguments, "--year", str(today.year), "--url", seeded.url])
        assert current.exit_code == 0, current.output
        assert before in current.stdout or note() in current.stdout, arguments  # midnight may pass meanwhile
        past = runner.invoke(app, [*arguments, "--year", str(today.year - 1), "--url", seeded.url])
        assert "is not over" not in past.stdout
