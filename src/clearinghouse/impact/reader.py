"""Reading state data sheets back into figures: published sheets and our own, as text, Markdown, HTML or PDF.

The reader finds each figure by the sentence that states it (published wording or ours, see
:mod:`clearinghouse.impact.patterns`), and reports what is wrong with a sheet instead of refusing it: a
breakdown that does not add up to its total, a line naming another state than the sheet's, a figure the sheet
does not state, two different values for one figure. Figures are still read when a sheet has problems.

A figure a sheet does not state is None, with a ``not_stated`` problem, except on a sheet we rendered: our
sheets follow the zero-figure rule (see :mod:`clearinghouse.impact.wording`), so there an absent state
sentence in a section that shows the program's national figure instead means zero. Published sheets follow no
stated rule (North Dakota's leaves out lines and shows a national figure in one place), so nothing is inferred
from them.
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from clearinghouse.impact import patterns
from clearinghouse.impact.extract import (
    UnreadableSheet,
    flatten,
    looks_like_html,
    sentence_around,
    text_from_bytes,
    text_from_file,
    text_from_html,
)
from clearinghouse.impact.figures import STATE_FIGURE_NAMES, NationalFigures, StateFigures
from clearinghouse.impact.places import find_state_mentions, state_abbr, state_name
from clearinghouse.impact.wording import BREAKDOWN_LABELS, NATIONAL_FALLBACK, PROVENANCE

NATIONAL_FIGURE_NAMES: tuple[str, ...] = tuple(name for name in NationalFigures.model_fields if name != "year")
"""Every national figure, in the contract's order."""

_OCCASIONAL_NATIONAL = frozenset({"rapid_response_activations", "long_term_cases_assisted"})
"""National figures a sheet shows only in place of a zero or absent state figure: their absence is normal."""


class ProblemKind(StrEnum):
    """What is wrong with a sheet."""

    NOT_STATED = "not_stated"
    WRONG_STATE = "wrong_state"
    BREAKDOWN_MISMATCH = "breakdown_mismatch"
    CONFLICTING_VALUES = "conflicting_values"
    NO_STATE = "no_state"
    NO_YEAR = "no_year"
    MIXED_YEARS = "mixed_years"
    UNREADABLE = "unreadable"


class Problem(BaseModel):
    """One thing wrong with a sheet, said so that someone can fix it."""

    model_config = ConfigDict(frozen=True)

    kind: ProblemKind
    message: str
    figure: str | None = Field(default=None, description="The figure concerned, when there is one.")

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.message}"


class ReadStateFigures(BaseModel):
    """The state figures as a sheet states them; None where the sheet does not state one."""

    model_config = ConfigDict(frozen=True)

    tipline_reports_made_available: int | None = None
    vid_submissions_reviewed: int | None = None
    missing_total: int | None = None
    missing_social_services: int | None = None
    missing_other: int | None = None
    missing_hhs_orr: int | None = None
    trafficking_engagements: int | None = None
    peer_support: int | None = None
    mental_health_connections: int | None = None
    rapid_response_cases: int | None = None
    new_professionals: int | None = None


class ReadNationalFigures(BaseModel):
    """The national figures as a sheet states them (rounded ones as written: "36.2 million" is 36200000)."""

    model_config = ConfigDict(frozen=True)

    tipline_reports_received: int | None = None
    tipline_files_received: int | None = None
    children_identified_to_date: int | None = None
    missing_cases: int | None = None
    missing_from_social_services: int | None = None
    likely_trafficking_percent: int | None = None
    trafficking_reports: int | None = None
    peer_support_recipients: int | None = None
    registered_professionals: int | None = None
    rapid_response_activations: int | None = None
    long_term_cases_assisted: int | None = None


class ReadResult(BaseModel):
    """What one sheet says: its state, year and figures, and the problems found in it."""

    model_config = ConfigDict(frozen=True)

    source: str = Field(description="The file read, or a label for text given directly.")
    wording: patterns.Wording | Literal["unknown"] = Field(
        description="Whose sentences the sheet uses: 'published' sheets or our own ('clearinghouse')."
    )
    state: str | None = Field(description="Two-letter postal abbreviation of the sheet's state.")
    state_name: str | None
    year: int | None
    figures: ReadStateFigures
    national: ReadNationalFigures
    problems: tuple[Problem, ...] = ()
    zero_by_rule: tuple[str, ...] = Field(
        default=(),
        description="State figures read as zero because our sheet left their sentence out (zero-figure rule)",
    )

    def problems_of(self, kind: ProblemKind) -> list[Problem]:
        """The problems of one kind."""
        return [problem for problem in self.problems if problem.kind is kind]

    def state_figures(self) -> StateFigures | None:
        """The figures as the contract model, or None when the state, the year or any figure is not known."""
        values = self.figures.model_dump()
        if self.state is None or self.state_name is None or self.year is None:
            return None
        if any(value is None for value in values.values()):
            return None
        del values["missing_total"]
        return StateFigures(state=self.state, state_name=self.state_name, year=self.year, **values)


def read_sheet(source: Path | str | bytes, *, label: str | None = None) -> ReadResult:
    """Read one sheet. ``source`` is a file path (``Path``, or a ``str`` naming an existing file), the text of
    a sheet (plain text, Markdown or HTML), or a file's bytes (PDF or UTF-8 text).

    Problems are returned in the result, never raised, so a batch of sheets can be read and reviewed together.
    """
    if isinstance(source, str) and _looks_like_a_missing_file(source):
        return _unreadable(label or source, f"no such file: {source}")
    try:
        if isinstance(source, Path) or (isinstance(source, str) and _names_a_file(source)):
            path = Path(source)
            return read_text(text_from_file(path), source=label or str(path))
        if isinstance(source, bytes):
            return read_text(text_from_bytes(source), source=label or "<bytes>")
    except (UnreadableSheet, OSError) as error:
        return _unreadable(label or str(source)[:80], str(error))
    text = text_from_html(source) if looks_like_html(source) else source
    return read_text(text, source=label or "<text>")


def _names_a_file(text: str) -> bool:
    # Sheet text always runs to several lines; a single short line is taken as a path if such a file exists.
    if "\n" in text or len(text) > 1024:
        return False
    try:
        return Path(text).is_file()
    except OSError:
        return False


_SHEET_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".json")


def _looks_like_a_missing_file(text: str) -> bool:
    # A one-line "nc-2023.pdf" that names no file is a mistyped path, not a sheet's text: say so.
    return "\n" not in text and text.strip().lower().endswith(_SHEET_SUFFIXES) and not _names_a_file(text)


def _unreadable(source: str, reason: str) -> ReadResult:
    return ReadResult(
        source=source,
        wording="unknown",
        state=None,
        state_name=None,
        year=None,
        figures=ReadStateFigures(),
        national=ReadNationalFigures(),
        problems=(Problem(kind=ProblemKind.UNREADABLE, message=f"cannot read the sheet: {reason}"),),
    )


def read_text(text: str, *, source: str = "<text>") -> ReadResult:
    """Read a sheet from its plain text or Markdown (or the text already extracted from HTML or PDF), or from
    the JSON a sheet is rendered as."""
    if text.lstrip().startswith("{"):
        return _read_json(text, source)
    flat = flatten(text)
    problems: list[Problem] = []
    ours = PROVENANCE in flat

    abbr, name = _sheet_state(flat)
    if abbr is None:
        problems.append(Problem(kind=ProblemKind.NO_STATE, message="no state named in the title or introduction"))
    year = _sheet_year(flat, problems)

    state_found = _find(flat, patterns.STATE_PATTERNS, problems)
    national_found = _find(flat, patterns.NATIONAL_PATTERNS, problems)
    national = {figure: value for figure, (value, _) in national_found.items()}
    state_values: dict[str, int | None] = {}
    zero_by_rule: list[str] = []
    for figure in STATE_FIGURE_NAMES:
        if figure in state_found:
            state_values[figure] = state_found[figure][0]
        elif ours and figure in NATIONAL_FALLBACK and all(n in national for n in NATIONAL_FALLBACK[figure]):
            state_values[figure] = 0  # the zero-figure rule: the state sentence was left out for a zero
            zero_by_rule.append(figure)
        else:
            state_values[figure] = None
            problems.append(
                Problem(
                    kind=ProblemKind.NOT_STATED,
                    figure=figure,
                    message=f"{_describe(figure)}: not stated on the sheet",
                )
            )
    for figure in NATIONAL_FIGURE_NAMES:
        if figure not in national and figure not in _OCCASIONAL_NATIONAL and not _no_share(figure, national, ours):
            problems.append(
                Problem(
                    kind=ProblemKind.NOT_STATED,
                    figure=figure,
                    message=f"national {_describe(figure)}: not stated on the sheet",
                )
            )

    problems.extend(_breakdown_problems(state_values))
    if abbr is not None and name is not None:
        spans = {figure: span for figure, (_, span) in state_found.items()}
        problems.extend(_wrong_state_problems(flat, abbr, name, spans))
    return ReadResult(
        source=source,
        wording="clearinghouse" if ours else ("published" if state_found or national_found else "unknown"),
        state=abbr,
        state_name=name,
        year=year,
        figures=ReadStateFigures(**state_values),
        national=ReadNationalFigures(**national),
        problems=tuple(problems),
        zero_by_rule=tuple(zero_by_rule),
    )


def _no_share(figure: str, national: dict[str, int], ours: bool) -> bool:
    """Our sheets state no share of likely trafficking when no child went missing from care (a share of none)."""
    return ours and figure == "likely_trafficking_percent" and national.get("missing_from_social_services") == 0


def _read_json(text: str, source: str) -> ReadResult:
    """A sheet rendered as JSON (`StateSheet`): its figures as they are, each stated, zeros included."""
    from pydantic import ValidationError

    from clearinghouse.impact.figures import StateSheet

    try:
        sheet = StateSheet.model_validate_json(text)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(map(str, first["loc"])) or "the document"
        return _unreadable(source, f"not the JSON of a sheet ({where}: {first['msg']})")
    figures, problems = sheet.state, []
    if state_name(figures.state) != figures.state_name:
        message = f"{figures.state_name!r} is not the name of {figures.state}"
        problems.append(Problem(kind=ProblemKind.WRONG_STATE, message=message))
    if sheet.national.year != figures.year:
        message = f"the sheet is for {figures.year} but its national figures are for {sheet.national.year}"
        problems.append(Problem(kind=ProblemKind.MIXED_YEARS, message=message))
    values = figures.model_dump(exclude={"state", "state_name", "year"})
    return ReadResult(
        source=source,
        wording="clearinghouse",
        state=figures.state,
        state_name=figures.state_name,
        year=figures.year,
        figures=ReadStateFigures(**values, missing_total=figures.missing_total),
        national=ReadNationalFigures(**sheet.national.model_dump(exclude={"year"})),
        problems=tuple(problems),
    )


def _describe(figure: str) -> str:
    return figure.replace("_", " ")


def _sheet_state(flat: str) -> tuple[str | None, str | None]:
    """The sheet's state: named in its title, else in its introduction, else the state it names most."""
    for regex in patterns.SHEET_STATE:
        match = regex.search(flat)
        if match:
            abbr = state_abbr(match.group("state"))
            if abbr is not None:
                return abbr, state_name(abbr)
    named = Counter(mention.abbr for mention in find_state_mentions(flat))
    if not named:
        return None, None
    abbr = named.most_common(1)[0][0]
    return abbr, state_name(abbr)


def _sheet_year(flat: str, problems: list[Problem]) -> int | None:
    """The year in our title, else the year the figures' sentences give most; other years are reported."""
    years = Counter(int(match.group("year")) for match in patterns.YEAR_PHRASE.finditer(flat))
    title = patterns.TITLE_YEAR.search(flat)
    if title:
        year: int | None = int(title.group("year"))
    elif years:
        year = years.most_common(1)[0][0]
    else:
        problems.append(Problem(kind=ProblemKind.NO_YEAR, message="no year stated on the sheet"))
        return None
    others = sorted(set(years) - {year})
    if others:
        problems.append(
            Problem(
                kind=ProblemKind.MIXED_YEARS,
                message=f"the sheet is for {year} but also dates figures to {', '.join(map(str, others))}",
            )
        )
    return year


def _find(
    flat: str, figure_patterns: tuple[patterns.FigurePattern, ...], problems: list[Problem]
) -> dict[str, tuple[int, tuple[int, int]]]:
    """Each figure's value and the span of the first sentence stating it; differing repeats are reported."""
    found: dict[str, list[tuple[int, int, tuple[int, int]]]] = {}
    for pattern in figure_patterns:
        for match in pattern.regex.finditer(flat):
            for group, figure in pattern.figures.items():
                try:
                    value = patterns.parse_amount(match.group(group))
                except ValueError as error:
                    problems.append(Problem(kind=ProblemKind.NOT_STATED, figure=figure, message=str(error)))
                    continue
                found.setdefault(figure, []).append((match.start(), value, match.span()))
    result: dict[str, tuple[int, tuple[int, int]]] = {}
    for figure, hits in found.items():
        hits.sort()
        values = sorted({value for _, value, _ in hits})
        if len(values) > 1:
            problems.append(
                Problem(
                    kind=ProblemKind.CONFLICTING_VALUES,
                    figure=figure,
                    message=f"{_describe(figure)} is stated as {' and as '.join(f'{v:,}' for v in values)}; "
                    f"reading the first, {hits[0][1]:,}",
                )
            )
        result[figure] = (hits[0][1], hits[0][2])
    return result


def _breakdown_problems(values: dict[str, int | None]) -> list[Problem]:
    total, parts = values["missing_total"], [values[name] for name in BREAKDOWN_LABELS]
    if total is None or any(part is None for part in parts):
        return []
    counted = [part for part in parts if part is not None]
    if sum(counted) == total:
        return []
    return [
        Problem(
            kind=ProblemKind.BREAKDOWN_MISMATCH,
            figure="missing_total",
            message=f"the missing-children categories add up to {sum(counted):,} "
            f"({' + '.join(f'{part:,}' for part in counted)}), but the stated total is {total:,}",
        )
    ]


def _wrong_state_problems(flat: str, abbr: str, name: str, spans: dict[str, tuple[int, int]]) -> list[Problem]:
    problems = []
    for mention in find_state_mentions(flat):
        if mention.abbr == abbr:
            continue
        figure = next((f for f, (start, end) in spans.items() if start <= mention.start < end), None)
        where = f"the {_describe(figure)} line" if figure else "a line"
        problems.append(
            Problem(
                kind=ProblemKind.WRONG_STATE,
                figure=figure,
                message=f"{where} names {mention.name}, but the sheet is for {name}: "
                f'"{sentence_around(flat, mention.start, mention.end)}"',
            )
        )
    return problems
