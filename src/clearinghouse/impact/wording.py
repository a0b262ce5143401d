"""What a state sheet says, in the Clearinghouse's own words: sections, sentences and the breakdown table.

The wording lives here, not in the templates, so that Markdown, HTML and PDF say exactly the same sentences
and the zero-figure rule is applied in one place. The templates only lay the result out.

Zero-figure rule: a state figure of zero is never written as a sentence. The sheet leaves that state sentence
out, and the section shows the program's national figure instead: tipline reports and files received; children
identified to date; trafficking reports received; survivors and families given peer support (for both peer
support and mental-health connections); professionals registered on the education platform; and, for the
rapid-response team, national activations and long-term cases assisted, a sentence that appears only when the
state figure is zero. The missing-children breakdown is the exception: its table always lists all three
categories, zeros included, with their total, because the categories must visibly add up to the total.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from clearinghouse.impact.figures import NationalFigures, StateFigures, StateSheet

ORGANISATION = "The Clearinghouse"

ZERO_FIGURE_RULE = (
    "Zero-figure rule: a state figure of zero is never written as a sentence. The sheet leaves that state"
    " sentence out, and the section shows the program's national figure instead: tipline reports and "
    "files received; children identified to date; trafficking reports received; survivors and families "
    "given peer support (for both peer support and mental-health connections); professionals registered "
    "on the education platform; and, for the rapid-response team, national activations and long-term "
    "cases assisted, a sentence that appears only when the state figure is zero. The missing-children "
    "breakdown is the exception: its table always lists all three categories, zeros included, with their "
    "total, because the categories must visibly add up to the total."
)
"""The rule, word for word as the module docstrings of this module and :mod:`clearinghouse.impact.render`
and the docstring of :func:`clearinghouse.impact.render.render_sheet` state it (a test keeps them in step)."""

PROVENANCE = "Figures are counted from the Clearinghouse's records"
"""Opening of the footer line on every sheet we render; the reader recognises our sheets by it."""

METRICS_DOC = "docs/metrics.md"

BREAKDOWN_LABELS: dict[str, str] = {
    "missing_social_services": "Missing from a social-services facility",
    "missing_other": "Other missing-child cases",
    "missing_hhs_orr": "Reported missing by the HHS Office of Refugee Resettlement",
}
"""Row labels of the missing-children table, by figure name, in table order."""

BREAKDOWN_TOTAL_LABEL = "Total"

NATIONAL_FALLBACK: dict[str, tuple[str, ...]] = {
    "tipline_reports_made_available": ("tipline_reports_received", "tipline_files_received"),
    "vid_submissions_reviewed": ("children_identified_to_date",),
    "trafficking_engagements": ("trafficking_reports",),
    "peer_support": ("peer_support_recipients",),
    "mental_health_connections": ("peer_support_recipients",),
    "rapid_response_cases": ("rapid_response_activations", "long_term_cases_assisted"),
    "new_professionals": ("registered_professionals",),
}
"""Under the zero-figure rule, the national figures a section shows when its state figure is zero.

The missing-children figures are absent on purpose: the breakdown table is always shown."""


@dataclass(frozen=True, slots=True)
class Paragraph:
    """One paragraph of a section; ``gives_state_figure`` marks the sentences a sheet emphasises."""

    text: str
    gives_state_figure: bool = False


@dataclass(frozen=True, slots=True)
class BreakdownRow:
    """One category row of the missing-children table."""

    figure: str
    label: str
    cases: int


@dataclass(frozen=True, slots=True)
class Breakdown:
    """The missing-children table: three categories and their total."""

    caption: str
    rows: tuple[BreakdownRow, ...]
    total: int
    total_label: str = BREAKDOWN_TOTAL_LABEL


@dataclass(frozen=True, slots=True)
class Section:
    """One program's section: a heading, its paragraphs, and the table where the program has one."""

    key: str
    heading: str
    paragraphs: tuple[Paragraph, ...]
    breakdown: Breakdown | None = None


@dataclass(frozen=True, slots=True)
class SheetLayout:
    """Everything a template needs, already worded."""

    organisation: str
    title: str
    state: str
    state_name: str
    year: int
    intro: str
    sections: tuple[Section, ...]
    footer: tuple[str, ...]


def number(value: int) -> str:
    """A count as sheets print it: exact, with thousands separators (our counts are never rounded)."""
    return f"{value:,}"


def count(value: int, singular: str, plural: str) -> str:
    """A count with its noun in the right number: "1 case", "3 cases", "0 cases"."""
    return f"{number(value)} {singular if value == 1 else plural}"


def _state_paragraphs(*candidates: tuple[int, str]) -> tuple[Paragraph, ...]:
    """The state sentences whose figure is not zero (the zero-figure rule)."""
    return tuple(Paragraph(text, gives_state_figure=True) for value, text in candidates if value != 0)


_FAMILIES = ("survivor or family", "survivors and families")


def _tipline(fig: StateFigures, nat: NationalFigures) -> Section:
    reports = count(nat.tipline_reports_received, "report", "reports")
    files = count(nat.tipline_files_received, "file", "files")
    released = count(fig.tipline_reports_made_available, "report", "reports")
    return Section(
        key="tipline",
        heading="Tipline: reports of child sexual exploitation",
        paragraphs=(
            Paragraph(
                f"In {fig.year}, the tipline took in {reports} of suspected child sexual exploitation "
                f"from the public and from online platforms, carrying {files}."
            ),
            *_state_paragraphs(
                (
                    fig.tipline_reports_made_available,
                    f"In {fig.year}, the tipline released {released} to law-enforcement agencies in {fig.state_name}.",
                ),
            ),
        ),
    )


def _victim_identification(fig: StateFigures, nat: NationalFigures) -> Section:
    identified = count(nat.children_identified_to_date, "child has", "children have")
    reviewed = count(fig.vid_submissions_reviewed, "submission", "submissions")
    return Section(
        key="victim-identification",
        heading="Victim identification",
        paragraphs=(
            Paragraph(
                "Victim identification helps investigators find the children seen in material seized during "
                f"investigations; {identified} been identified with its help to date."
            ),
            *_state_paragraphs(
                (
                    fig.vid_submissions_reviewed,
                    f"In {fig.year}, victim-identification analysts finished reviewing {reviewed} from "
                    f"law-enforcement agencies in {fig.state_name}.",
                ),
            ),
        ),
    )


def _missing_children(fig: StateFigures, nat: NationalFigures) -> Section:
    national_cases = count(nat.missing_cases, "missing-child case", "missing-child cases")
    from_care = number(nat.missing_from_social_services)
    # A share of no cases is no finding: "0% of those children" would read as one.
    share = (
        f" Our analysis found that {nat.likely_trafficking_percent}% of those children were likely trafficked for sex."
        if nat.missing_from_social_services
        else ""
    )
    return Section(
        key="missing-children",
        heading="Missing children",
        paragraphs=(
            Paragraph(
                f"In {fig.year}, the Clearinghouse opened {national_cases} nationwide; {from_care} of them "
                f"concerned children missing from social-services care.{share}"
            ),
            # Always written, even at zero: the table below must visibly add up to this total.
            Paragraph(
                f"In {fig.year}, the Clearinghouse opened {count(fig.missing_total, 'case', 'cases')} for "
                f"children missing from {fig.state_name}, in these categories:",
                gives_state_figure=True,
            ),
        ),
        breakdown=Breakdown(
            caption=f"Missing-child cases for {fig.state_name}, {fig.year}, by category",
            rows=tuple(
                BreakdownRow(figure=name, label=label, cases=getattr(fig, name))
                for name, label in BREAKDOWN_LABELS.items()
            ),
            total=fig.missing_total,
        ),
    )


def _trafficking(fig: StateFigures, nat: NationalFigures) -> Section:
    reports = count(nat.trafficking_reports, "report", "reports")
    engagements = count(fig.trafficking_engagements, "engagement", "engagements")
    return Section(
        key="trafficking",
        heading="Child sex trafficking",
        paragraphs=(
            Paragraph(
                f"In {fig.year}, the tipline logged {reports} concerning child sex trafficking. "
                "Recovery-services staff work beside the agencies on these cases: they help plan each "
                "child's recovery, advise on reaching young people who keep running, and bring professions "
                "together so that children are not harmed again."
            ),
            *_state_paragraphs(
                (
                    fig.trafficking_engagements,
                    f"In {fig.year}, recovery-services staff took part in {engagements} with social-service "
                    f"agencies in {fig.state_name} on child sex trafficking cases.",
                ),
            ),
        ),
    )


def _survivors_and_families(fig: StateFigures, nat: NationalFigures) -> Section:
    supported = count(nat.peer_support_recipients, *_FAMILIES)
    connected = count(fig.mental_health_connections, *_FAMILIES)
    return Section(
        key="survivors-and-families",
        heading="Survivors and families",
        paragraphs=(
            Paragraph(
                "The peer-support network puts survivors and families in touch with volunteers who have been "
                "through a child's disappearance or exploitation themselves. "
                f"In {fig.year} it supported {supported} nationwide."
            ),
            *_state_paragraphs(
                (fig.peer_support, f"Of these, {fig.state_name} accounted for {number(fig.peer_support)}."),
                (
                    fig.mental_health_connections,
                    f"In {fig.year}, the mental-health referral network connected {connected} in "
                    f"{fig.state_name} with mental-health services.",
                ),
            ),
        ),
    )


def _rapid_response(fig: StateFigures, nat: NationalFigures) -> Section:
    activations = count(nat.rapid_response_activations, "activation", "activations")
    long_term = count(nat.long_term_cases_assisted, "long-term case", "long-term cases")
    assisted = count(fig.rapid_response_cases, "critical case", "critical cases")
    # The national figures replace the state sentence only; a sheet with a state figure does not repeat them.
    national = Paragraph(
        f"Nationwide in {fig.year}, the team had {activations} on critical missing-child cases and assisted "
        f"on {long_term}."
    )
    return Section(
        key="rapid-response",
        heading="Rapid-response team",
        paragraphs=(
            Paragraph(
                "The rapid-response team sends experienced former investigators to work on the ground beside "
                "local law enforcement when a child's disappearance is critical."
            ),
            *(
                _state_paragraphs(
                    (
                        fig.rapid_response_cases,
                        f"In {fig.year}, the team assisted on {assisted} in {fig.state_name}.",
                    )
                )
                or (national,)
            ),
        ),
    )


def _education(fig: StateFigures, nat: NationalFigures) -> Section:
    registered = count(nat.registered_professionals, "registered professional", "registered professionals")
    new = count(fig.new_professionals, "professional", "professionals")
    return Section(
        key="education",
        heading="Education for professionals",
        paragraphs=(
            Paragraph(
                "The education platform trains police officers, prosecutors, social workers and others whose "
                f"work touches children; at the end of {fig.year} it had {registered}."
            ),
            *_state_paragraphs(
                (
                    fig.new_professionals,
                    f"In {fig.year}, {new} from {fig.state_name} registered on the platform.",
                ),
            ),
        ),
    )


def not_over(year: int) -> str | None:
    """The note a sheet or table of the current year carries: its figures are the year so far, not the year."""
    today = dt.datetime.now(dt.UTC)
    if year != today.year:
        return None
    return f"{year} is not over: these figures count its records up to {today.day} {today:%B}."


def layout_sheet(sheet: StateSheet) -> SheetLayout:
    """Word a sheet: every section, sentence and table row, applying the zero-figure rule.

    Zero-figure rule: a state figure of zero is never written as a sentence. The sheet leaves that state
    sentence out, and the section shows the program's national figure instead (see :data:`ZERO_FIGURE_RULE`);
    the missing-children table always lists all three categories, zeros included, with their total.
    """
    fig, nat = sheet.state, sheet.national
    sections = (_tipline, _victim_identification, _missing_children, _trafficking, _survivors_and_families)
    return SheetLayout(
        organisation=ORGANISATION,
        title=f"{fig.state_name} data sheet, {fig.year}",
        state=fig.state,
        state_name=fig.state_name,
        year=fig.year,
        intro=(
            f"What the Clearinghouse's programs did for {fig.state_name} in {fig.year}, program by program, "
            "with the national figure for each program alongside."
        ),
        sections=tuple(build(fig, nat) for build in (*sections, _rapid_response, _education)),
        footer=(
            f"{PROVENANCE} for {fig.year}; {METRICS_DOC} defines each one.",
            *filter(None, (not_over(fig.year),)),
            "A state figure of zero is not written out: its section shows the national figure instead, and "
            "the missing-children table lists every category, zeros included.",
        ),
    )
