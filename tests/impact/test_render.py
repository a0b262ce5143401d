"""Rendered sheets read back to the same figures, follow the zero-figure rule, and are in our own words."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from clearinghouse.impact import render, wording
from clearinghouse.impact.extract import flatten
from clearinghouse.impact.figures import STATE_FIGURE_NAMES, NationalFigures, StateFigures, StateSheet
from clearinghouse.impact.places import state_name
from clearinghouse.impact.reader import NATIONAL_FIGURE_NAMES, ReadResult, read_sheet
from clearinghouse.impact.render import render_sheet

from .conftest import NATIONAL_2023, SheetFactory

ZERO_RULE_FIGURES = tuple(wording.NATIONAL_FALLBACK)


def assert_reads_back(result: ReadResult, sheet: StateSheet) -> None:
    """Every state figure exactly; every national figure the sheet shows exactly; no problems."""
    assert result.problems == ()
    assert result.wording == "clearinghouse"
    assert result.state_figures() == sheet.state
    assert result.figures.missing_total == sheet.state.missing_total
    national = result.national.model_dump()
    for name in NATIONAL_FIGURE_NAMES:
        if name in ("rapid_response_activations", "long_term_cases_assisted") and sheet.state.rapid_response_cases:
            assert national[name] is None  # shown only in place of a zero state figure
        elif name == "likely_trafficking_percent" and not sheet.national.missing_from_social_services:
            assert national[name] is None  # no share is stated of no cases
        else:
            assert national[name] == getattr(sheet.national, name), name


# Names chosen to catch a reader confused by names inside names or long names.
PLACES = ("NC", "ND", "WV", "VA", "KS", "AR", "DC", "PR", "MP", "NY")
counts = st.one_of(st.just(0), st.just(1), st.integers(0, 5_000_000))


@st.composite
def sheets(draw: st.DrawFn) -> StateSheet:
    year = draw(st.integers(2000, 2099))
    national = NationalFigures(
        year=year,
        likely_trafficking_percent=draw(st.integers(0, 100)),
        **{name: draw(counts) for name in NATIONAL_FIGURE_NAMES if name != "likely_trafficking_percent"},
    )
    abbr = draw(st.sampled_from(PLACES))
    figures = {name: draw(counts) for name in STATE_FIGURE_NAMES if name != "missing_total"}
    return StateSheet(
        state=StateFigures(state=abbr, state_name=state_name(abbr) or "", year=year, **figures),
        national=national,
    )


@settings(max_examples=40, deadline=None)
@given(sheet=sheets())
def test_markdown_round_trip(sheet: StateSheet) -> None:
    assert_reads_back(read_sheet(render_sheet(sheet, "md")), sheet)


@settings(max_examples=25, deadline=None)
@given(sheet=sheets())
def test_html_round_trip(sheet: StateSheet) -> None:
    assert_reads_back(read_sheet(render_sheet(sheet, "html")), sheet)


def _zeros() -> dict[str, int]:
    return {name: 0 for name in STATE_FIGURE_NAMES if name != "missing_total"}


@pytest.mark.parametrize(
    "figures",
    [
        pytest.param({}, id="north-carolina-2023"),
        pytest.param(_zeros(), id="all-zero"),
        pytest.param({"trafficking_engagements": 0, "rapid_response_cases": 0, "missing_other": 0}, id="some-zero"),
        pytest.param({name: 1 for name in _zeros()}, id="all-one"),
    ],
)
def test_pdf_round_trip(make_sheet: SheetFactory, figures: dict[str, int], tmp_path: Path) -> None:
    sheet = make_sheet("WV", **figures)
    pdf = render_sheet(sheet, "pdf")
    assert pdf.startswith(b"%PDF-")
    path = tmp_path / "sheet.pdf"
    path.write_bytes(pdf)
    assert_reads_back(read_sheet(path), sheet)


def test_json_is_the_model_dump(make_sheet: SheetFactory) -> None:
    sheet = make_sheet(rapid_response_cases=0)
    text = render_sheet(sheet, "json")
    assert json.loads(text) == sheet.model_dump(mode="json")
    assert StateSheet.model_validate_json(text) == sheet


def test_zero_figure_rule(make_sheet: SheetFactory) -> None:
    sheet = make_sheet(rapid_response_cases=0, peer_support=0, missing_hhs_orr=0)
    text = render_sheet(sheet, "md")
    assert "accounted for" not in text  # the peer-support state sentence is left out
    assert "assisted on 0" not in text
    assert "Nationwide in 2023, the team had 57 activations" in text
    assert "146 long-term cases" in text
    assert "| Reported missing by the HHS Office of Refugee Resettlement | 0 |" in text
    result = read_sheet(text)
    assert set(result.zero_by_rule) == {"rapid_response_cases", "peer_support"}


def test_no_share_of_likely_trafficking_is_stated_when_no_child_went_missing_from_care(
    make_sheet: SheetFactory,
) -> None:
    national = NATIONAL_2023.model_copy(update={"missing_from_social_services": 0, "likely_trafficking_percent": 0})
    sheet = make_sheet(national=national)
    for fmt in ("md", "html"):
        text = render_sheet(sheet, fmt)
        assert "0 of them concerned children missing from social-services care." in flatten(text)
        assert "likely trafficked" not in text
        assert_reads_back(read_sheet(text), sheet)


def test_rapid_response_national_only_in_place_of_a_zero(make_sheet: SheetFactory) -> None:
    text = render_sheet(make_sheet(rapid_response_cases=2), "md")
    assert "assisted on 2 critical cases in North Carolina" in text
    assert "activations" not in text


def test_every_zero_state_figure_leaves_its_sentence_out(make_sheet: SheetFactory) -> None:
    sheet = make_sheet(**_zeros())
    text = render_sheet(sheet, "md")
    naming_the_state = [line for line in text.splitlines() if "North Carolina" in line]
    # Only the title, the introduction and the missing-children total (always shown) name the state.
    assert len(naming_the_state) == 3, naming_the_state
    assert set(read_sheet(text).zero_by_rule) == set(ZERO_RULE_FIGURES)


def test_rule_text_is_the_same_everywhere() -> None:
    rule = " ".join(wording.ZERO_FIGURE_RULE.split())
    for doc in (wording.__doc__, render.__doc__, render.render_sheet.__doc__):
        assert doc is not None
        assert rule in " ".join(doc.split())


def test_html_is_a_standalone_page(make_sheet: SheetFactory) -> None:
    page = render_sheet(make_sheet(), "html")
    assert page.startswith("<!DOCTYPE html>")
    assert "<style>" in page
    assert "@page" in page
    assert not re.search(r"<link|<script|src=|@import|url\(", page)
    assert '<table class="breakdown">' in page
    assert "docs/metrics.md" in page


def test_pdf_looks_published(make_sheet: SheetFactory) -> None:
    pdf = PdfReader(io.BytesIO(render_sheet(make_sheet("ND"), "pdf")))
    assert pdf.metadata is not None
    assert pdf.metadata.title == "North Dakota data sheet, 2023 | The Clearinghouse"
    text = " ".join(page.extract_text() for page in pdf.pages)
    assert "North Dakota data sheet, 2023" in text
    assert "Category Cases" in text
    assert "docs/metrics.md" in text
    assert f"Page 1 of {len(pdf.pages)}" in text


def _sentences(text: str) -> list[list[str]]:
    return [re.findall(r"[a-z0-9%'/,-]+", s.lower()) for s in re.split(r"(?<=[.:;])\s+", flatten(text))]


def test_written_in_our_own_words(make_sheet: SheetFactory, seeds_dir: Path) -> None:
    """No run of six words in one of our sentences appears in a published sheet."""
    length = 6
    published = {
        tuple(words[i : i + length])
        for seed in seeds_dir.glob("*.txt")
        for words in _sentences(seed.read_text())
        for i in range(len(words) - length + 1)
    }
    for sheet in (make_sheet(), make_sheet(**_zeros())):
        ours = render_sheet(sheet, "md")
        shared = {
            " ".join(words[i : i + length])
            for words in _sentences(ours)
            for i in range(len(words) - length + 1)
            if tuple(words[i : i + length]) in published
        }
        assert shared == set()


def test_self_check_refuses_a_name_that_is_not_the_states(make_sheet: SheetFactory) -> None:
    sheet = make_sheet("ND")
    wrong = sheet.model_copy(update={"state": sheet.state.model_copy(update={"state_name": "North Carolina"})})
    with pytest.raises(render.SheetCheckError, match=r"'North Carolina' is not the name of ND \(North Dakota\)"):
        render_sheet(wrong, "md")


def test_self_check_refuses_national_figures_of_another_year(make_sheet: SheetFactory) -> None:
    sheet = make_sheet(national=NATIONAL_2023.model_copy(update={"year": 2022}))
    wrong = sheet.model_copy(update={"state": sheet.state.model_copy(update={"year": 2023})})
    with pytest.raises(render.SheetCheckError, match="national figures are for 2022"):
        render_sheet(wrong, "html")


def _template(name: str) -> str:
    return (Path(render.__file__).parent / "templates" / name).read_text()


def test_self_check_catches_a_table_that_does_not_add_up(make_sheet: SheetFactory) -> None:
    broken = _template("sheet.md.j2").replace("{{ row.cases | number }}", "{{ (row.cases + 1) | number }}")
    loader = jinja2.DictLoader({"sheet.md.j2": broken})
    with pytest.raises(render.SheetCheckError, match="breakdown_mismatch") as raised:
        render_sheet(make_sheet(), "md", loader=loader)
    assert "add up to 748 (537 + 149 + 62), but the stated total is 745" in str(raised.value)


def test_self_check_catches_a_line_naming_another_state(make_sheet: SheetFactory) -> None:
    title = "<h1>{{ layout.title }}</h1>"
    broken = _template("sheet.html.j2").replace(title, title + "<p>See also Ohio.</p>")
    # The stylesheet the HTML template includes still comes from the package.
    loader = jinja2.ChoiceLoader(
        [
            jinja2.DictLoader({"sheet.html.j2": broken}),
            jinja2.PackageLoader("clearinghouse.impact", "templates"),
        ]
    )
    with pytest.raises(render.SheetCheckError, match="names Ohio, but the sheet is for North Carolina"):
        render_sheet(make_sheet(), "pdf", loader=loader)


def test_self_check_catches_a_zero_written_out(make_sheet: SheetFactory) -> None:
    zero_written_out = (
        "{% if section.key == 'rapid-response' %}"
        "In {{ layout.year }}, the team assisted on 0 critical cases in {{ layout.state_name }}."
        "{% endif %}"
    )
    heading = "## {{ section.heading }}"
    broken = _template("sheet.md.j2").replace(heading, f"{heading}\n\n{zero_written_out}")
    loader = jinja2.DictLoader({"sheet.md.j2": broken})
    with pytest.raises(render.SheetCheckError, match="rapid_response_cases is zero but is written as a sentence"):
        render_sheet(make_sheet(rapid_response_cases=0), "md", loader=loader)


def test_check_rendered_on_edited_output(make_sheet: SheetFactory) -> None:
    sheet = make_sheet()
    text = render_sheet(sheet, "md")
    render.check_rendered(text, sheet, fmt="md")
    edited = text.replace("agencies in North Carolina on child sex", "agencies in South Carolina on child sex")
    with pytest.raises(render.SheetCheckError, match="South Carolina") as raised:
        render.check_rendered(edited, sheet, fmt="md")
    assert raised.value.failures
    figures_changed = text.replace("released 24,099 reports", "released 24,098 reports")
    with pytest.raises(render.SheetCheckError, match="tipline_reports_made_available reads back as 24,098"):
        render.check_rendered(figures_changed, sheet, fmt="md")
