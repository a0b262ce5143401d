"""The sentences a sheet states its figures in, as patterns: the published wording and our own.

Each pattern is matched against the flat text (see :mod:`clearinghouse.impact.extract`) and names, for each
number it captures, the figure that number is. Patterns allow the variations seen among published sheets
("1 case" and "3 cases", "Children Missing From Social Services" with or without "Facility", "Team Adam
provided Team Adam critical case assistance") and must also match every sentence :mod:`wording` writes:
the round-trip tests hold the two in step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

from clearinghouse.impact.places import state_name_pattern
from clearinghouse.impact.wording import BREAKDOWN_LABELS, BREAKDOWN_TOTAL_LABEL

Wording = Literal["published", "clearinghouse"]

# The look-arounds keep a count from starting or ending inside a longer number.
_COUNT = r"(?<![\d,])(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)"
_SCALES = {"thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
# Published national figures are often rounded ("more than 105 million"); the qualifier is not in the value.
_QUALIFIER = r"(?:(?:more than|over|nearly|almost|about|approximately|some) )?"


def _amount(group: str) -> str:
    """A captured number: "24,099", "95", "36.2 million", with an optional "more than" before it."""
    return rf"{_QUALIFIER}(?P<{group}>(?:{_COUNT})(?:\.\d+)?(?: (?:thousand|million|billion))?)"


N, M = _amount("n"), _amount("m")
STATE = rf"(?P<state>{state_name_pattern()})"


def parse_amount(text: str) -> int:
    """The whole number a sheet writes: "36.2 million" -> 36200000, "18,400" -> 18400, "19" -> 19."""
    words = text.replace(",", "").split()
    scale = _SCALES[words[1].lower()] if len(words) > 1 else 1
    try:
        value = Decimal(words[0]) * scale
    except (InvalidOperation, IndexError) as error:
        raise ValueError(f"not a number a sheet would write: {text!r}") from error
    if value != value.to_integral_value():
        raise ValueError(f"not a whole number: {text!r} is {value}")
    return int(value)


@dataclass(frozen=True, slots=True)
class FigurePattern:
    """A sentence that states figures: its regular expression and, per captured group, the figure it gives."""

    regex: re.Pattern[str]
    figures: Mapping[str, str]
    wording: Wording


def _pattern(source: str, wording: Wording, **figures: str) -> FigurePattern:
    # Case-insensitive so that capitalisation differences between sheets do not hide a figure.
    return FigurePattern(re.compile(source, re.IGNORECASE), figures, wording)


def _label(text: str) -> str:
    return re.escape(text).replace(r"\ ", " ")


STATE_PATTERNS: tuple[FigurePattern, ...] = (
    _pattern(
        rf"{N} (?:CyberTipline |tipline )?reports? (?:were|was) made available to law enforcement in {STATE}",
        "published",
        n="tipline_reports_made_available",
    ),
    _pattern(
        rf"the tipline released {N} reports? to law-enforcement agencies in {STATE}",
        "clearinghouse",
        n="tipline_reports_made_available",
    ),
    _pattern(
        rf"reviewed {N} submissions? of child sexual exploitation material from {STATE} law enforcement",
        "published",
        n="vid_submissions_reviewed",
    ),
    _pattern(
        rf"finished reviewing {N} submissions? from law-enforcement agencies in {STATE}",
        "clearinghouse",
        n="vid_submissions_reviewed",
    ),
    _pattern(rf"handled {N} cases? of missing children from {STATE}", "published", n="missing_total"),
    _pattern(rf"opened {N} cases? for children missing from {STATE}", "clearinghouse", n="missing_total"),
    _pattern(rf"\b{_label(BREAKDOWN_TOTAL_LABEL)} {N}", "clearinghouse", n="missing_total"),
    _pattern(
        rf"children missing from social services(?: facility| facilities)? ?:? {N}",
        "published",
        n="missing_social_services",
    ),
    _pattern(rf"other missing children cases ?:? {N}", "published", n="missing_other"),
    _pattern(
        r"children reported missing by (?:the )?(?:HHS )?Office of Refugee Resettlement"
        rf"(?: \(HHS-ORR\))? ?:? {N}",
        "published",
        n="missing_hhs_orr",
    ),
    *(_pattern(rf"{_label(label)} {N}", "clearinghouse", n=figure) for figure, label in BREAKDOWN_LABELS.items()),
    _pattern(
        rf"had {N} engagements? with {STATE} social service agencies",
        "published",
        n="trafficking_engagements",
    ),
    _pattern(
        rf"took part in {N} engagements? with social-service agencies in {STATE}",
        "clearinghouse",
        n="trafficking_engagements",
    ),
    _pattern(rf"including {N} survivors?/famil(?:y|ies) in {STATE}", "published", n="peer_support"),
    _pattern(rf"Of these, {STATE} accounted for {N}", "clearinghouse", n="peer_support"),
    _pattern(
        rf"connected {N} survivors?/famil(?:y|ies) to mental health services in {STATE}",
        "published",
        n="mental_health_connections",
    ),
    _pattern(
        rf"connected {N} (?:survivor or family|survivors and families) in {STATE} "
        r"with mental-health services",
        "clearinghouse",
        n="mental_health_connections",
    ),
    _pattern(
        rf"Team Adam provided (?:Team Adam )?critical case assistance on {N} cases? in {STATE}",
        "published",
        n="rapid_response_cases",
    ),
    _pattern(rf"the team assisted on {N} critical cases? in {STATE}", "clearinghouse", n="rapid_response_cases"),
    _pattern(
        rf"including {N} new law enforcement and child-serving professionals? in {STATE}",
        "published",
        n="new_professionals",
    ),
    _pattern(rf"{N} professionals? from {STATE} registered on the platform", "clearinghouse", n="new_professionals"),
)
"""Sentences stating a state figure. Those with a ``state`` group also name the state the figure is for."""


NATIONAL_PATTERNS: tuple[FigurePattern, ...] = (
    _pattern(
        rf"received {N} reports related to child sexual exploitation, "
        rf"containing {M} pieces of reported content",
        "published",
        n="tipline_reports_received",
        m="tipline_files_received",
    ),
    _pattern(
        rf"the tipline took in {N} reports? of suspected child sexual exploitation from the public and from "
        rf"online platforms, carrying {M} files?",
        "clearinghouse",
        n="tipline_reports_received",
        m="tipline_files_received",
    ),
    _pattern(rf"identification of {N} children", "published", n="children_identified_to_date"),
    _pattern(
        rf"{N} (?:child has|children have) been identified with its help to date",
        "clearinghouse",
        n="children_identified_to_date",
    ),
    _pattern(
        rf"on {N} missing child cases, {M} of which involved children "
        r"who had run away from a social services",
        "published",
        n="missing_cases",
        m="missing_from_social_services",
    ),
    _pattern(
        rf"opened {N} missing-child cases? nationwide; {M} of them "
        r"concerned children missing from social-services",
        "clearinghouse",
        n="missing_cases",
        m="missing_from_social_services",
    ),
    _pattern(
        r"(?P<n>\d+) ?% of these children were likely victims of child sex trafficking",
        "published",
        n="likely_trafficking_percent",
    ),
    _pattern(
        r"(?P<n>\d+) ?% of those children were likely trafficked for sex",
        "clearinghouse",
        n="likely_trafficking_percent",
    ),
    _pattern(rf"received {N} reports relating to child sex trafficking", "published", n="trafficking_reports"),
    _pattern(
        rf"the tipline logged {N} reports? concerning child sex trafficking",
        "clearinghouse",
        n="trafficking_reports",
    ),
    _pattern(rf"supported {N} survivors and families with peer support", "published", n="peer_support_recipients"),
    _pattern(
        rf"it supported {N} (?:survivor or family|survivors and families) nationwide",
        "clearinghouse",
        n="peer_support_recipients",
    ),
    _pattern(rf"had {N} registered users", "published", n="registered_professionals"),
    _pattern(rf"it had {N} registered professionals?", "clearinghouse", n="registered_professionals"),
    _pattern(
        rf"Team Adam was activated on {N} incidents? involving critically missing children and provided "
        rf"assistance to {M} long-term missing children cases?",
        "published",
        n="rapid_response_activations",
        m="long_term_cases_assisted",
    ),
    _pattern(
        rf"the team had {N} activations? on critical missing-child cases "
        rf"and assisted on {M} long-term cases?",
        "clearinghouse",
        n="rapid_response_activations",
        m="long_term_cases_assisted",
    ),
)
"""Sentences stating a national figure."""


SHEET_STATE: tuple[re.Pattern[str], ...] = (
    re.compile(rf"{STATE} (?i:data)\b"),
    re.compile(rf"Listed below are {STATE} specific statistics"),
    re.compile(rf"did for {STATE} in \d{{4}}"),
)
"""Where a sheet names its own state, best first: the title ("North Dakota Data" published, "North Dakota data
sheet" ours), then the introduction, for a sheet whose title is lost."""

TITLE_YEAR = re.compile(rf"{state_name_pattern()} (?i:data sheet), (?P<year>\d{{4}})\b")
"""The year in our own title."""

YEAR_PHRASE = re.compile(r"\b(?:in|of|end of) (?P<year>(?:19|20)\d{2})\b", re.IGNORECASE)
"""Phrases dating a figure ("In 2023, ..."); the sheet's year is the one they give most."""
