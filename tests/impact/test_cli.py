"""`sheet read` through Typer's runner, help on every option, and write_sheet."""

from __future__ import annotations

import csv
import io
import json
import stat
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from clearinghouse.impact.cli import csv_columns, sheet_app, write_sheet
from clearinghouse.impact.reader import read_sheet
from clearinghouse.impact.render import SHEET_FORMATS, SUFFIXES, SheetCheckError, SheetFormat

from .conftest import SheetFactory

runner = CliRunner()


def _seeds(seeds_dir: Path) -> list[str]:
    return [str(path) for path in sorted(seeds_dir.glob("*.txt"))]


def test_read_json(seeds_dir: Path) -> None:
    result = runner.invoke(sheet_app, ["read", *_seeds(seeds_dir)])
    assert result.exit_code == 0, result.output
    sheets = {sheet["state"]: sheet for sheet in json.loads(result.stdout)}
    assert sorted(sheets) == ["AL", "CA", "NC", "ND", "NY"]
    assert sheets["CA"]["figures"]["trafficking_engagements"] == 2028
    assert sheets["ND"]["figures"]["trafficking_engagements"] is None
    assert {problem["kind"] for problem in sheets["ND"]["problems"]} == {"not_stated", "wrong_state"}
    assert sheets["NY"]["problems"] == []


def test_read_csv(seeds_dir: Path) -> None:
    result = runner.invoke(sheet_app, ["read", "--format", "csv", *_seeds(seeds_dir)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert tuple(rows[0]) == csv_columns()
    by_state = {row["state"]: row for row in rows}
    assert len(rows) == 5
    north_dakota = by_state["ND"]
    assert (north_dakota["year"], north_dakota["missing_total"], north_dakota["missing_hhs_orr"]) == (
        "2023",
        "68",
        "1",
    )
    assert north_dakota["rapid_response_cases"] == ""
    assert north_dakota["national_rapid_response_activations"] == "57"
    assert "wrong_state: the missing total line names North Carolina" in north_dakota["problems"]
    assert by_state["AL"]["problems"] == ""
    assert by_state["NC"]["national_tipline_reports_received"] == "36200000"


def test_read_our_own_sheets(make_sheet: SheetFactory, tmp_path: Path) -> None:
    sheet = make_sheet("AL", peer_support=0)
    paths = [write_sheet(sheet, fmt, tmp_path / f"alabama{SUFFIXES[fmt]}") for fmt in ("md", "html", "pdf")]
    result = runner.invoke(sheet_app, ["read", "-f", "json", *map(str, paths)])
    assert result.exit_code == 0, result.output
    for read in json.loads(result.stdout):
        assert read["problems"] == []
        assert read["figures"]["peer_support"] == 0
        assert read["zero_by_rule"] == ["peer_support"]


def test_every_format_we_write_reads_back_to_the_same_figures(make_sheet: SheetFactory, tmp_path: Path) -> None:
    # Rapid response at zero: the text sheets then state the national activations too, as JSON always does.
    sheet = make_sheet("PR", peer_support=0, rapid_response_cases=0, missing_other=7)
    paths = [write_sheet(sheet, fmt, tmp_path / f"pr{SUFFIXES[fmt]}") for fmt in SHEET_FORMATS]
    result = runner.invoke(sheet_app, ["read", "-f", "csv", *map(str, paths)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["source"] for row in rows] == list(map(str, paths))
    figures = [{name: value for name, value in row.items() if name != "source"} for row in rows]
    assert all(row == figures[0] for row in figures), figures
    assert (figures[0]["state"], figures[0]["year"], figures[0]["missing_total"]) == ("PR", "2023", "604")
    assert figures[0]["problems"] == ""


def test_a_json_file_that_is_not_a_sheet_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text('{"state": {"state": "NC"}}\n')
    (read,) = json.loads(runner.invoke(sheet_app, ["read", str(path)]).stdout)
    assert [problem["kind"] for problem in read["problems"]] == ["unreadable"]
    assert "not the JSON of a sheet" in read["problems"][0]["message"]


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(sheet_app, ["read", str(tmp_path / "absent.txt")])
    assert result.exit_code == 2


def test_unknown_format_is_a_usage_error(seeds_dir: Path) -> None:
    result = runner.invoke(sheet_app, ["read", "--format", "xml", _seeds(seeds_dir)[0]])
    assert result.exit_code == 2


def test_help_on_every_command_and_option() -> None:
    # Typer vendors its own Click, so the command tree is walked by attribute rather than by Click's classes.
    group = typer.main.get_command(sheet_app)
    assert group.help
    commands = group.commands  # type: ignore[attr-defined]
    assert "read" in commands
    for name, command in commands.items():
        assert command.help, name
        for parameter in command.params:
            assert getattr(parameter, "help", None), f"{name} {parameter.name} has no help"
        result = runner.invoke(sheet_app, [name, "--help"])
        assert result.exit_code == 0
        assert "--format" in result.stdout


@pytest.mark.parametrize("fmt", SHEET_FORMATS)
def test_write_sheet(make_sheet: SheetFactory, tmp_path: Path, fmt: SheetFormat) -> None:
    sheet = make_sheet("NY", missing_other=0)
    out = write_sheet(sheet, fmt, tmp_path / "2023" / f"new-york{SUFFIXES[fmt]}")
    assert out.is_file()
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert [path.name for path in out.parent.iterdir()] == [out.name]  # no temporary file left behind
    if fmt == "json":
        assert json.loads(out.read_text())["state"]["state"] == "NY"
    else:
        assert read_sheet(out).state_figures() == sheet.state


def test_write_sheet_writes_nothing_when_the_check_fails(make_sheet: SheetFactory, tmp_path: Path) -> None:
    sheet = make_sheet("NY")
    wrong = sheet.model_copy(update={"state": sheet.state.model_copy(update={"state_name": "New Jersey"})})
    with pytest.raises(SheetCheckError):
        write_sheet(wrong, "md", tmp_path / "new-york.md")
    assert list(tmp_path.iterdir()) == []
