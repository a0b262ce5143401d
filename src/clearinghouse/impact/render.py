"""Rendering a state data sheet as Markdown, a standalone HTML page, a PDF, or JSON, and checking the result.

The words come from :mod:`clearinghouse.impact.wording`, the layout from the Jinja2 templates beside this
module (one HTML template and stylesheet serve both the page and the PDF, which WeasyPrint prints). Before
returning, the renderer reads its own output back with :mod:`clearinghouse.impact.reader` and raises
:class:`SheetCheckError` if the breakdown does not add up to its total, a line names another state than the
sheet's, or any figure reads back differently from the figure given.

Zero-figure rule: a state figure of zero is never written as a sentence. The sheet leaves that state sentence
out, and the section shows the program's national figure instead: tipline reports and files received; children
identified to date; trafficking reports received; survivors and families given peer support (for both peer
support and mental-health connections); professionals registered on the education platform; and, for the
rapid-response team, national activations and long-term cases assisted, a sentence that appears only when the
state figure is zero. The missing-children breakdown is the exception: its table always lists all three
categories, zeros included, with their total, because the categories must visibly add up to the total.
"""

from __future__ import annotations

import warnings
from functools import cache
from typing import Literal, overload

import jinja2
from PIL import ImageFile

from clearinghouse.impact.figures import STATE_FIGURE_NAMES, StateSheet
from clearinghouse.impact.places import state_name
from clearinghouse.impact.reader import NATIONAL_FIGURE_NAMES, ReadResult, read_sheet
from clearinghouse.impact.wording import NATIONAL_FALLBACK, SheetLayout, layout_sheet, number

SheetFormat = Literal["md", "html", "pdf", "json"]
TextFormat = Literal["md", "html", "json"]
SHEET_FORMATS: tuple[SheetFormat, ...] = ("md", "html", "pdf", "json")
SUFFIXES: dict[SheetFormat, str] = {"md": ".md", "html": ".html", "pdf": ".pdf", "json": ".json"}
"""File suffix for each format."""


class SheetCheckError(ValueError):
    """Raised when a rendered sheet fails its own check; ``failures`` says what is wrong, one item each."""

    def __init__(self, sheet: StateSheet, fmt: str, failures: list[str]) -> None:
        self.failures = failures
        figures = sheet.state
        summary = "; ".join(failures)
        super().__init__(
            f"the {fmt} sheet for {figures.state_name} ({figures.state}) {figures.year} fails its check: {summary}"
        )


@cache
def _environment(loader: jinja2.BaseLoader | None) -> jinja2.Environment:
    """The template environment, built once per loader (``None``: the packaged templates)."""
    environment = jinja2.Environment(
        loader=loader or jinja2.PackageLoader("clearinghouse.impact", "templates"),
        # Only the HTML template escapes; the stylesheet it includes and the Markdown must stay as written.
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    environment.filters["number"] = number
    return environment


@overload
def render_sheet(sheet: StateSheet, fmt: Literal["pdf"], *, loader: jinja2.BaseLoader | None = None) -> bytes: ...
@overload
def render_sheet(sheet: StateSheet, fmt: TextFormat, *, loader: jinja2.BaseLoader | None = None) -> str: ...
@overload
def render_sheet(sheet: StateSheet, fmt: SheetFormat, *, loader: jinja2.BaseLoader | None = None) -> str | bytes: ...
def render_sheet(sheet: StateSheet, fmt: SheetFormat, *, loader: jinja2.BaseLoader | None = None) -> str | bytes:
    """Render a sheet: Markdown, HTML or JSON as text, PDF as bytes. Checked before it is returned.

    ``loader`` replaces the packaged templates (``sheet.md.j2``, ``sheet.html.j2``, ``sheet.css``), for a
    partner's branding; the check applies to whatever they produce.

    Zero-figure rule: a state figure of zero is never written as a sentence. The sheet leaves that state
    sentence out, and the section shows the program's national figure instead: tipline reports and files
    received; children identified to date; trafficking reports received; survivors and families given peer
    support (for both peer support and mental-health connections); professionals registered on the education
    platform; and, for the rapid-response team, national activations and long-term cases assisted, a sentence
    that appears only when the state figure is zero. The missing-children breakdown is the exception: its
    table always lists all three categories, zeros included, with their total, because the categories must
    visibly add up to the total.

    Raises :class:`SheetCheckError` when the sheet's figures are inconsistent (a state name that is not the
    abbreviation's, national figures for another year) or the output fails :func:`check_rendered`.
    """
    _check_figures(sheet, fmt)
    rendered: str | bytes
    if fmt == "json":
        rendered = sheet.model_dump_json(indent=2) + "\n"
    elif fmt == "md":
        rendered = _render_template(sheet, "sheet.md.j2", loader)
    elif fmt == "html":
        rendered = _render_template(sheet, "sheet.html.j2", loader)
    elif fmt == "pdf":
        rendered = html_to_pdf(_render_template(sheet, "sheet.html.j2", loader))
    else:
        raise ValueError(f"unknown sheet format {fmt!r}: expected one of {', '.join(SHEET_FORMATS)}")
    check_rendered(rendered, sheet, fmt=fmt)
    return rendered


def render_sheet_bytes(sheet: StateSheet, fmt: SheetFormat, *, loader: jinja2.BaseLoader | None = None) -> bytes:
    """Render a sheet as the bytes of its file (text formats in UTF-8)."""
    rendered = render_sheet(sheet, fmt, loader=loader)
    return rendered if isinstance(rendered, bytes) else rendered.encode("utf-8")


def _render_template(sheet: StateSheet, name: str, loader: jinja2.BaseLoader | None) -> str:
    layout: SheetLayout = layout_sheet(sheet)
    return _environment(loader).get_template(name).render(layout=layout)


def html_to_pdf(html: str) -> bytes:
    """Print an HTML page (with its embedded stylesheet) to PDF."""
    with warnings.catch_warnings():
        # WeasyPrint warns on import when Debian's HarfBuzz-Subset library is missing, then subsets fonts with
        # fontTools instead, which works; the warning must not fail a run that treats warnings as errors.
        # Imported here, not at the top, so that reading sheets does not pay for loading WeasyPrint.
        warnings.filterwarnings("ignore", message="HarfBuzz-Subset", category=DeprecationWarning)
        truncated = ImageFile.LOAD_TRUNCATED_IMAGES
        from weasyprint import HTML

    # Importing WeasyPrint turns on Pillow's process-wide truncated-image loading; the sheets embed no raster
    # images, and the upload hasher must refuse truncated files, so the setting is put back as it was.
    ImageFile.LOAD_TRUNCATED_IMAGES = truncated

    pdf = HTML(string=html).write_pdf()
    if not isinstance(pdf, bytes):  # WeasyPrint returns bytes when given no target; guard its untyped API
        raise TypeError(f"WeasyPrint returned {type(pdf).__name__}, expected bytes")
    return pdf


def _check_figures(sheet: StateSheet, fmt: str) -> None:
    """Refuse figures no correct sheet could show, before spending time on rendering them."""
    figures, failures = sheet.state, []
    expected_name = state_name(figures.state)
    if expected_name is None:
        failures.append(f"state {figures.state!r} is not the postal abbreviation of a state, DC or territory")
    elif expected_name != figures.state_name:
        failures.append(f"state_name {figures.state_name!r} is not the name of {figures.state} ({expected_name})")
    if sheet.national.year != figures.year:
        failures.append(f"national figures are for {sheet.national.year}, state figures for {figures.year}")
    negative = [name for name, value in figures.model_dump().items() if isinstance(value, int) and value < 0]
    negative += [f"national {n}" for n, v in sheet.national.model_dump().items() if isinstance(v, int) and v < 0]
    if negative:
        failures.append(f"negative counts: {', '.join(negative)}")
    if failures:
        raise SheetCheckError(sheet, fmt, failures)


def check_rendered(rendered: str | bytes, sheet: StateSheet, *, fmt: str = "sheet") -> None:
    """Check a rendered sheet against the figures it was rendered from; raise :class:`SheetCheckError` if not.

    The output is read back with the sheet reader (text for Markdown and HTML, the PDF's text layer for PDF).
    It fails when the missing-children breakdown does not add up to its total, any line names a state other
    than the sheet's, a figure is missing or reads back differently, a zero state figure is written as a
    sentence (the zero-figure rule), or the sheet's state or year reads back differently. JSON must parse back
    to the same model.
    """
    if fmt == "json":
        text = rendered.decode("utf-8") if isinstance(rendered, bytes) else rendered
        if StateSheet.model_validate_json(text) != sheet:
            raise SheetCheckError(sheet, fmt, ["the JSON does not parse back to the same figures"])
        return
    failures = _read_back_failures(read_sheet(rendered, label=f"rendered {fmt}"), sheet)
    if failures:
        raise SheetCheckError(sheet, fmt, failures)


def _read_back_failures(result: ReadResult, sheet: StateSheet) -> list[str]:
    figures, national = sheet.state, sheet.national
    failures = [str(problem) for problem in result.problems]
    if result.state != figures.state:
        failures.append(f"the sheet reads as being for {result.state_name or 'no state'}, not {figures.state_name}")
    if result.year != figures.year:
        failures.append(f"the sheet reads as being for {result.year or 'no year'}, not {figures.year}")
    read_state = result.figures.model_dump()
    for name in STATE_FIGURE_NAMES:
        expected: int = getattr(figures, name)
        if read_state[name] is not None and read_state[name] != expected:
            failures.append(f"{name} reads back as {read_state[name]:,}, but the figure is {expected:,}")
        if name in NATIONAL_FALLBACK and expected == 0 and name not in result.zero_by_rule:
            failures.append(f"{name} is zero but is written as a sentence (the zero-figure rule leaves it out)")
    read_national = result.national.model_dump()
    for name in NATIONAL_FIGURE_NAMES:
        expected = getattr(national, name)
        if read_national[name] is not None and read_national[name] != expected:
            failures.append(f"national {name} reads back as {read_national[name]:,}, but the figure is {expected:,}")
    return failures
