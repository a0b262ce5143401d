"""State names on sheets: the names a sheet may mention, their postal abbreviations, and finding them in text.

Sheets are written for the 50 states, DC and the five inhabited territories, so those are the names a line of
a sheet can mention. Names come from the ``us`` package, as in :mod:`clearinghouse.geo.jurisdictions`; this
module does not import that one because it only needs names and the geo lookups load ZIP and telephone data.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import us


@dataclass(frozen=True, slots=True)
class StateMention:
    """One place in a text where a state is named."""

    abbr: str
    name: str
    start: int
    end: int


@cache
def _names_by_abbr() -> dict[str, str]:
    places = list(us.states.STATES_AND_TERRITORIES)
    if us.states.DC not in places:
        places.append(us.states.DC)
    return {str(place.abbr): str(place.name) for place in places}


@cache
def _abbrs_by_name() -> dict[str, str]:
    return {name: abbr for abbr, name in _names_by_abbr().items()}


@cache
def _abbrs_by_folded_name() -> dict[str, str]:
    return {name.casefold(): abbr for name, abbr in _abbrs_by_name().items()}


def state_name(abbr: str) -> str | None:
    """The name of the state, DC or territory with this postal abbreviation, or None if there is none."""
    return _names_by_abbr().get(abbr.upper())


def state_abbr(name: str) -> str | None:
    """The postal abbreviation for a state name in any capitalisation ("North Dakota" -> "ND"), or None."""
    return _abbrs_by_folded_name().get(" ".join(name.split()).casefold())


@cache
def state_name_pattern() -> str:
    """A regular-expression alternation matching any state name, longest names first.

    Longest first so that "West Virginia" is found as one name rather than as "Virginia"; the word boundaries
    keep "Kansas" from matching inside "Arkansas".
    """
    names = sorted(_abbrs_by_name(), key=len, reverse=True)
    return r"\b(?:" + "|".join(re.escape(name).replace(r"\ ", r"\s+") for name in names) + r")\b"


@cache
def _state_name_regex() -> re.Pattern[str]:
    # Case-sensitive on purpose: state names are proper nouns, and "maine" or "georgia" in lower case are not.
    return re.compile(state_name_pattern())


def find_state_mentions(text: str) -> Iterator[StateMention]:
    """Every naming of a state in the text, in order."""
    for match in _state_name_regex().finditer(text):
        name = " ".join(match.group(0).split())
        yield StateMention(abbr=_abbrs_by_name()[name], name=name, start=match.start(), end=match.end())
