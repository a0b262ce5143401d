"""The fixed list of jurisdictions (50 states, DC, five territories, FED and INTL) and lookups into it.

Everything here is pure and in memory: names, abbreviations and FIPS codes come from the ``us`` package,
ZIP codes from ``zipcodes`` and telephone numbers from ``phonenumbers``. The store's ``jurisdictions`` table
is seeded from :data:`ALL_JURISDICTIONS` (see :mod:`clearinghouse.geo.agencies`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import phonenumbers
import us
import zipcodes

from clearinghouse.geo.models import FEDERAL, INTERNATIONAL, JurisdictionKind

US = "US"
"""ISO 3166 alpha-2 code of the United States."""

TERRITORY_CODES = frozenset({"AS", "GU", "MP", "PR", "VI"})
"""The five inhabited territories; ISO 3166 gives each its own country code, equal to its postal code."""


@dataclass(frozen=True, slots=True)
class JurisdictionInfo:
    """One jurisdiction as the lookups return it (the store's row is built from this)."""

    code: str
    name: str
    kind: JurisdictionKind
    fips: str | None

    @property
    def is_us_place(self) -> bool:
        """True for a state, DC or a territory; False for the FED and INTL buckets."""
        return self.kind in (JurisdictionKind.STATE, JurisdictionKind.DISTRICT, JurisdictionKind.TERRITORY)


class UnknownJurisdiction(ValueError):
    """Raised when text, a ZIP code, a phone number or a code names no jurisdiction we know."""

    def __init__(self, given: object, *, expected: str = "a US state, DC or territory", detail: str = "") -> None:
        self.given = given
        self.expected = expected
        message = f"unknown jurisdiction {given!r}: expected {expected}"
        if detail:
            message = f"{message} ({detail})"
        super().__init__(message)


def _kind_of(state: us.states.State) -> JurisdictionKind:
    if state.abbr == "DC":
        return JurisdictionKind.DISTRICT
    if state.is_territory:
        return JurisdictionKind.TERRITORY
    return JurisdictionKind.STATE


US_JURISDICTIONS: tuple[JurisdictionInfo, ...] = tuple(
    sorted(
        (JurisdictionInfo(s.abbr, s.name, _kind_of(s), s.fips) for s in us.states.STATES_AND_TERRITORIES),
        key=lambda info: info.code,
    )
)
"""The 56 US places: 50 states, the District of Columbia, AS, GU, MP, PR and VI, ordered by code."""

FEDERAL_BUCKET = JurisdictionInfo(FEDERAL, "Federal (state not determined)", JurisdictionKind.FEDERAL, None)
INTERNATIONAL_BUCKET = JurisdictionInfo(
    INTERNATIONAL, "International (outside the United States)", JurisdictionKind.INTERNATIONAL, None
)

ALL_JURISDICTIONS: tuple[JurisdictionInfo, ...] = (*US_JURISDICTIONS, FEDERAL_BUCKET, INTERNATIONAL_BUCKET)
"""Every jurisdiction a report can be released to."""

_BY_CODE: dict[str, JurisdictionInfo] = {info.code: info for info in ALL_JURISDICTIONS}

# Spellings people and platforms actually send that the ``us`` package does not know.
_ALIASES: dict[str, str] = {
    "washington dc": "DC",
    "washington d c": "DC",
    "district of columbia": "DC",
    "washington state": "WA",
    "us virgin islands": "VI",
    "u s virgin islands": "VI",
    "united states virgin islands": "VI",
    "virgin islands": "VI",
    "virgin islands of the united states": "VI",
    "usvi": "VI",
    "northern mariana islands": "MP",
    "commonwealth of the northern mariana islands": "MP",
    "cnmi": "MP",
    "commonwealth of puerto rico": "PR",
}


def _normalise(text: str) -> str:
    """Lower case, dots and apostrophes dropped, other punctuation and runs of space made one space."""
    text = text.casefold().replace(".", "").replace("'", "")
    return " ".join(re.split(r"[\s,_\-/]+", text)).strip()


@cache
def _name_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for state in us.states.STATES_AND_TERRITORIES:
        index[_normalise(state.abbr)] = state.abbr
        index[_normalise(state.name)] = state.abbr
        if state.ap_abbr:
            index[_normalise(state.ap_abbr)] = state.abbr
        if state.fips:
            index[state.fips] = state.abbr
    # AP abbreviations already cover "N.C." and "Calif."; the aliases add spellings the us package lacks.
    index.update({_normalise(alias): code for alias, code in _ALIASES.items()})
    return index


def find_state(text: str) -> JurisdictionInfo:
    """The state, DC or territory named by ``text``: name, postal or AP abbreviation, FIPS code; any case."""
    if not isinstance(text, str):
        raise UnknownJurisdiction(text, detail=f"a {type(text).__name__} was given, text was expected")
    key = _normalise(text)
    if key.isdigit() and len(key) == 1:
        key = f"0{key}"  # FIPS codes are two digits; "6" and "06" both mean California
    code = _name_index().get(key)
    if code is None:
        raise UnknownJurisdiction(text, expected="a US state, DC or territory name, postal abbreviation or FIPS code")
    return _BY_CODE[code]


def get_jurisdiction_info(code: str) -> JurisdictionInfo:
    """The jurisdiction whose code is ``code`` (a US postal abbreviation, ``FED`` or ``INTL``), any case."""
    info = _BY_CODE.get(code.strip().upper()) if isinstance(code, str) else None
    if info is None:
        raise UnknownJurisdiction(
            code, expected=f"one of the {len(_BY_CODE)} codes: a state/DC/territory abbreviation, FED or INTL"
        )
    return info


def us_place_for_country(country_code: str) -> JurisdictionInfo | None:
    """The territory an ISO country code stands for (PR, GU, VI, AS, MP), else None."""
    code = country_code.strip().upper()
    return _BY_CODE[code] if code in TERRITORY_CODES else None


_ZIP_PATTERN = re.compile(r"^([0-9]{5})(?:-?[0-9]{4})?$")  # ASCII digits: \d matches any script's


def state_from_zip(zip_code: str) -> JurisdictionInfo:
    """The state, DC or territory of a US ZIP code (``27601`` or ZIP+4 ``27601-1234``)."""
    text = zip_code.strip() if isinstance(zip_code, str) else ""
    match = _ZIP_PATTERN.match(text)
    if match is None:
        raise UnknownJurisdiction(zip_code, expected="a five-digit ZIP code or ZIP+4 such as 27601-1234")
    found: list[dict[str, Any]] = zipcodes.matching(match.group(1))  # type: ignore[no-untyped-call]
    for row in found:
        info = _BY_CODE.get(row["state"])
        if info is not None and info.is_us_place:
            return info
    if found:
        # Military post (AA/AE/AP) and freely associated states (FM/MH/PW) have ZIPs but no US jurisdiction.
        raise UnknownJurisdiction(
            zip_code,
            detail=f"ZIP code {match.group(1)} is assigned to {found[0]['state']}, not a state or territory",
        )
    raise UnknownJurisdiction(zip_code, detail=f"ZIP code {match.group(1)} is not in the ZIP code directory")


def parse_phone(number: str, default_region: str = US) -> phonenumbers.PhoneNumber:
    """``number`` parsed (a leading ``+`` gives its country; otherwise ``default_region`` is assumed)."""
    try:
        return phonenumbers.parse(number, default_region)
    except phonenumbers.NumberParseException as error:
        raise UnknownJurisdiction(number, expected="a telephone number", detail=str(error)) from error


def country_from_phone(number: str, default_region: str = US) -> str:
    """The ISO alpha-2 country of a telephone number; a territory's number gives the territory's own code."""
    region = phonenumbers.region_code_for_number(parse_phone(number, default_region))
    if not region or region == "001":  # "001" is phonenumbers' code for non-geographic (satellite) numbers
        raise UnknownJurisdiction(number, expected="a telephone number with a country", detail="no country found")
    return str(region)


def state_from_phone(number: str, default_region: str = US) -> JurisdictionInfo:
    """The state, DC or territory of a US or territory telephone number, from its area code and exchange.

    phonenumbers' geocoder describes US numbers either as a state ("North Carolina", "Washington State",
    "Washington D.C.") or as "City, ST"; both are read here. Non-geographic numbers (toll-free 800 and the
    like) and numbers outside the US raise :class:`UnknownJurisdiction`.
    """
    parsed = parse_phone(number, default_region)
    region = phonenumbers.region_code_for_number(parsed)
    if region in TERRITORY_CODES:
        # The territories have their own region codes even where phonenumbers calls the exchange invalid.
        return _BY_CODE[str(region)]
    if region != US:
        raise UnknownJurisdiction(number, detail=f"the number belongs to country {region or 'unknown'}, not the US")
    # Imported on first use: the geocoder loads its data for every country's prefixes (about 0.3 s), which every
    # command and worker process would otherwise pay at start-up.
    from phonenumbers import geocoder

    description = str(geocoder.description_for_number(parsed, "en")).strip()
    if not description:
        raise UnknownJurisdiction(number, detail="the number is not geographic (toll-free or similar)")
    city_state = re.fullmatch(r".+,\s*([A-Z]{2})", description)
    try:
        return find_state(city_state.group(1) if city_state else description)
    except UnknownJurisdiction as error:
        raise UnknownJurisdiction(number, detail=f"the number's area is described as {description!r}") from error
