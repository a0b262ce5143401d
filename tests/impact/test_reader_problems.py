"""The reader reports what is wrong with a sheet, reads what it can, and copes with layouts and formats."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from clearinghouse.impact.extract import flatten
from clearinghouse.impact.patterns import parse_amount
from clearinghouse.impact.reader import ProblemKind, read_sheet
from clearinghouse.impact.render import html_to_pdf

SeedPath = Callable[[str], Path]


def _modified_copy(seed: Path, tmp_path: Path, old: str, new: str) -> Path:
    text = seed.read_text()
    assert old in text, f"the seed no longer contains {old!r}"
    copy = tmp_path / f"modified{seed.suffix}"
    copy.write_text(text.replace(old, new, 1))
    return copy


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("36.2 million", 36_200_000),
        ("105 million", 105_000_000),
        ("18,400", 18_400),
        ("19", 19),
        ("2,028", 2_028),
        ("1.5 billion", 1_500_000_000),
        ("12 thousand", 12_000),
    ],
)
def test_amounts(written: str, value: int) -> None:
    assert parse_amount(written) == value


def test_amount_that_is_not_whole() -> None:
    with pytest.raises(ValueError, match="whole number"):
        parse_amount("1.2345 thousand")


def test_breakdown_that_does_not_add_up(seed_path: SeedPath, tmp_path: Path) -> None:
    copy = _modified_copy(
        seed_path("North Carolina"),
        tmp_path,
        "Other Missing Children Cases\t148",
        "Other Missing Children Cases\t150",
    )
    result = read_sheet(copy)
    (problem,) = result.problems
    assert problem.kind is ProblemKind.BREAKDOWN_MISMATCH
    assert problem.figure == "missing_total"
    assert "747 (536 + 150 + 61)" in problem.message
    assert "745" in problem.message
    assert (result.figures.missing_total, result.figures.missing_other) == (745, 150)  # still read


def test_total_that_does_not_match(seed_path: SeedPath, tmp_path: Path) -> None:
    copy = _modified_copy(seed_path("Alabama"), tmp_path, "handled 211 cases", "handled 2,110 cases")
    (problem,) = read_sheet(copy).problems_of(ProblemKind.BREAKDOWN_MISMATCH)
    assert "211 (123 + 43 + 45)" in problem.message
    assert "2,110" in problem.message


def test_figure_stated_twice_differently(seed_path: SeedPath, tmp_path: Path) -> None:
    seed = seed_path("New York")
    copy = tmp_path / "twice.txt"
    extra = "\n\n**In 2023, NCMEC connected 190 survivors/families to mental health services in New York.**\n"
    copy.write_text(seed.read_text() + extra)
    result = read_sheet(copy)
    (problem,) = result.problems
    assert problem.kind is ProblemKind.CONFLICTING_VALUES
    assert problem.figure == "mental_health_connections"
    assert "187 and as 190" in problem.message
    assert result.figures.mental_health_connections == 187  # the first statement


def test_line_naming_another_state_outside_a_figure(seed_path: SeedPath, tmp_path: Path) -> None:
    copy = _modified_copy(seed_path("California"), tmp_path, "Listed below are California", "Listed below are Nevada")
    result = read_sheet(copy)
    assert result.state == "CA"  # the title still says California
    (problem,) = result.problems_of(ProblemKind.WRONG_STATE)
    assert problem.figure is None
    assert "Nevada" in problem.message


def test_west_virginia_is_not_virginia() -> None:
    text = (
        "West Virginia Data\n\n"
        "In 2023, 12 CyberTipline reports were made available to law enforcement in West Virginia."
    )
    result = read_sheet(text)
    assert (result.state, result.figures.tipline_reports_made_available) == ("WV", 12)
    assert result.problems_of(ProblemKind.WRONG_STATE) == []


def test_other_year_is_reported(seed_path: SeedPath, tmp_path: Path) -> None:
    copy = _modified_copy(
        seed_path("Alabama"), tmp_path, "**In 2023, NCMEC reviewed 45", "**In 2022, NCMEC reviewed 45"
    )
    result = read_sheet(copy)
    assert result.year == 2023
    (problem,) = result.problems_of(ProblemKind.MIXED_YEARS)
    assert "2022" in problem.message


def test_layout_variations_do_not_change_figures(seed_path: SeedPath, tmp_path: Path) -> None:
    """Windows line ends, sentences broken across lines, spaces for tabs, bold removed."""
    seed = seed_path("North Carolina")
    original = read_sheet(seed)
    words = seed.read_text().replace("**", "").replace("\t", "   ").split(" ")
    rewrapped = "".join(word + ("\r\n" if index % 7 == 6 else " ") for index, word in enumerate(words))
    variant = tmp_path / "variant.md"
    variant.write_text(rewrapped.replace("\n", "\r\n"))
    result = read_sheet(variant)
    assert result.figures == original.figures
    assert result.national == original.national
    assert result.problems == ()


def test_published_sheet_as_pdf(seed_path: SeedPath, tmp_path: Path) -> None:
    """A published sheet printed to PDF reads the same as its text: line wraps and pages do not matter."""
    seed = seed_path("North Dakota")
    paragraphs = re.split(r"\n\s*\n", seed.read_text())
    body = "".join(f"<p>{html.escape(paragraph)}</p>" for paragraph in paragraphs)
    pdf = tmp_path / "north-dakota.pdf"
    pdf.write_bytes(html_to_pdf(f"<!DOCTYPE html><html><body>{body}</body></html>"))
    from_pdf, from_text = read_sheet(pdf), read_sheet(seed)
    assert from_pdf.figures == from_text.figures
    assert from_pdf.national == from_text.national
    assert [p.kind for p in from_pdf.problems] == [p.kind for p in from_text.problems]


def test_sources_path_str_text_bytes(seed_path: SeedPath) -> None:
    seed = seed_path("Alabama")
    by_path, by_str = read_sheet(seed), read_sheet(str(seed))
    by_text, by_bytes = read_sheet(seed.read_text()), read_sheet(seed.read_bytes())
    assert by_path.figures == by_str.figures == by_text.figures == by_bytes.figures
    assert by_path.source == str(seed)
    assert by_text.source == "<text>"


def test_damaged_pdf_is_a_problem_not_an_error(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.pdf"
    damaged.write_bytes(b"%PDF-1.7\nthis is not really a PDF")
    result = read_sheet(damaged)
    (problem,) = result.problems
    assert problem.kind is ProblemKind.UNREADABLE
    assert result.state is None


def test_mistyped_path_is_a_problem(tmp_path: Path) -> None:
    (problem,) = read_sheet(str(tmp_path / "nc-2023.pdf")).problems
    assert problem.kind is ProblemKind.UNREADABLE
    assert "no such file" in problem.message


def test_text_that_is_not_a_sheet() -> None:
    result = read_sheet("Minutes of the meeting.\nNothing to report.")
    kinds = {problem.kind for problem in result.problems}
    assert {ProblemKind.NO_STATE, ProblemKind.NO_YEAR, ProblemKind.NOT_STATED} <= kinds
    assert result.wording == "unknown"
    assert all(value is None for value in result.figures.model_dump().values())


def test_flatten_removes_markup_and_joins_wrapped_hyphens() -> None:
    text = "# Title\n\n**In 2023,** the law-\nenforcement\tagencies | 12 |\n|:---|---:|\n_The Clearinghouse_"
    assert flatten(text) == "Title In 2023, the law-enforcement agencies 12 The Clearinghouse"
