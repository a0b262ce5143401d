"""`clearinghouse sheet render` and `sheet all`: sheets counted from a store, through the command line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from clearinghouse.cli import app
from clearinghouse.db.engine import open_store
from clearinghouse.education import service as education
from clearinghouse.education.schemas import ProfessionalCreate
from clearinghouse.impact.reader import read_sheet

runner = CliRunner()


def _store_with_one_registration(path: Path) -> str:
    url = f"sqlite:///{path}"
    store = open_store(url)
    with store.unit_of_work() as session:
        education.register(
            session=session,
            data=ProfessionalCreate(
                email="someone@example.org",
                full_name="Sam Example",
                profession="child_serving",
                organization="Example County",
                state_code="North Dakota",
                registered_at="2023-05-04T10:00:00+00:00",
            ),
        )
    store.dispose()
    return url


def test_render_prints_a_sheet_counted_from_the_store(tmp_path: Path) -> None:
    url = _store_with_one_registration(tmp_path / "store.db")
    result = runner.invoke(app, ["sheet", "render", "north dakota", "--year", "2023", "--format", "md", "--url", url])
    assert result.exit_code == 0, result.output
    read = read_sheet(result.stdout)
    assert read.state == "ND"
    assert read.figures.new_professionals == 1
    assert read.figures.tipline_reports_made_available == 0


def test_render_refuses_an_unknown_state_by_name(tmp_path: Path) -> None:
    url = _store_with_one_registration(tmp_path / "store.db")
    result = runner.invoke(app, ["sheet", "render", "Atlantis", "--year", "2023", "--url", url])
    assert result.exit_code == 2
    assert "Atlantis" in result.output


def test_all_writes_a_sheet_for_every_state_and_territory(tmp_path: Path) -> None:
    url = _store_with_one_registration(tmp_path / "store.db")
    out = tmp_path / "sheets"
    result = runner.invoke(app, ["sheet", "all", "--year", "2023", "--out", str(out), "--format", "md", "--url", url])
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in out.glob("*.md"))
    assert len(written) == 56  # 50 states, DC, five territories
    assert read_sheet(out / "ND-2023.md").figures.new_professionals == 1
    assert read_sheet(out / "PR-2023.md").state == "PR"
