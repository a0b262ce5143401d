"""The tipline's *locate* step: a report's location evidence -> country, US state and a confidence.

A pure function of the evidence (and of the read-only IP database, when one is configured). The rule, also
written in docs/intake.md, "Locating a report":

1. Each item is placed on its own: an address by its state field, else its ZIP code, else its country; a ZIP
   code through the ZIP directory; a telephone number by its area code (or its country when outside the US);
   cell coordinates by the nearest ZIP centre; an estimated location by its country code and region; an IP
   address through the IP database (ignored when none is configured). An item that cannot be placed is not
   counted. The five territories count as the United States, with the territory as the "state".
2. Each placed item weighs ``kind weight x party factor x proxy factor``. Kind weights, strongest first:
   verified address 0.95, ZIP code 0.85, unverified address 0.75, cell coordinates 0.70, verified phone 0.65,
   phone 0.60, verified estimated location 0.55, estimated location 0.45, IP address 0.40. Party factors:
   reported user, file and incident 1.0; victim 0.8; reporter 0.3 (a platform's reporting contact says where
   the platform is, not where the child or the suspect is). An item flagged as a possible proxy, or an IP the
   database marks anonymous (proxy, VPN, Tor), is multiplied by 0.25, so a proxy IP weighs 0.10. The
   verified flag counts only where the wire format carries it: addresses, phones, estimated locations.
3. The country is the one with the greatest total weight; if it is the US, the state is the one with the
   greatest total among items that name a state. Ties go to the side whose single strongest item is heavier,
   then to the alphabetically first code, so the answer never depends on the order of the evidence.
4. Confidence of a vote = ``(1 - product of (1 - w) over the winner's items) x (winner's total / all
   totals)``: agreeing items raise it, dissent and proxies lower it. The decision's confidence is the
   country vote's, or the smaller of the country and state votes' when a state was found.
5. No placeable evidence: country and state are None and the confidence is 0. The release step sends a report
   with a state to that state's task forces, a non-US country to INTL, and everything else (no evidence, or
   US without a state) to FED: see :attr:`LocationDecision.release_jurisdiction`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from clearinghouse.geo.coordinates import state_from_coordinates
from clearinghouse.geo.ipgeo import NOT_A_COUNTRY, IpResolver
from clearinghouse.geo.jurisdictions import (
    TERRITORY_CODES,
    US,
    UnknownJurisdiction,
    country_from_phone,
    find_state,
    state_from_phone,
    state_from_zip,
    us_place_for_country,
)
from clearinghouse.geo.models import FEDERAL, INTERNATIONAL


class EvidenceKind(enum.StrEnum):
    """The location-bearing elements of a report."""

    IP = "ip"
    ESTIMATED_LOCATION = "estimated_location"
    ADDRESS = "address"
    ZIP = "zip"
    PHONE = "phone"
    CELL_COORDINATES = "cell_coordinates"


class EvidenceParty(enum.StrEnum):
    """Whose element it is: the reported user, a victim, the reporter, an uploaded file, or the incident."""

    REPORTED_USER = "reported_user"
    VICTIM = "victim"
    REPORTER = "reporter"
    FILE = "file"
    INCIDENT = "incident"


KIND_WEIGHTS: dict[tuple[EvidenceKind, bool], float] = {
    # (kind, verified) -> weight; the order follows how hard each is to get wrong or to fake.
    (EvidenceKind.ADDRESS, True): 0.95,
    (EvidenceKind.ZIP, True): 0.85,
    (EvidenceKind.ZIP, False): 0.85,
    (EvidenceKind.ADDRESS, False): 0.75,
    (EvidenceKind.CELL_COORDINATES, True): 0.70,
    (EvidenceKind.CELL_COORDINATES, False): 0.70,
    (EvidenceKind.PHONE, True): 0.65,
    (EvidenceKind.PHONE, False): 0.60,  # numbers travel with their owners, so an area code can be years stale
    (EvidenceKind.ESTIMATED_LOCATION, True): 0.55,
    (EvidenceKind.ESTIMATED_LOCATION, False): 0.45,
    (EvidenceKind.IP, True): 0.40,
    (EvidenceKind.IP, False): 0.40,
}
PARTY_FACTORS: dict[EvidenceParty, float] = {
    EvidenceParty.REPORTED_USER: 1.0,
    EvidenceParty.FILE: 1.0,
    EvidenceParty.INCIDENT: 1.0,
    EvidenceParty.VICTIM: 0.8,
    EvidenceParty.REPORTER: 0.3,
}
PROXY_FACTOR = 0.25
"""A proxy's exit point is where the proxy is, not the user; it still often shares the user's country."""

_US_COUNTRY_NAMES = frozenset({"us", "usa", "united states", "united states of america", "america"})


class LocationEvidence(BaseModel):
    """One location-bearing element of a report, as the intake step extracted it.

    ``value`` holds the IP address, the telephone number or the ZIP code; an address uses ``region`` (its
    state), ``zip_code`` and ``country``; an estimated location uses ``region`` and ``country``; cell
    coordinates use ``latitude`` and ``longitude``. The class methods build each kind with the right fields.
    """

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True, extra="forbid")

    kind: EvidenceKind
    party: EvidenceParty = EvidenceParty.REPORTED_USER
    value: str | None = None
    region: str | None = None
    zip_code: str | None = None
    country: str | None = None
    latitude: float | None = Field(default=None, ge=-90.0, le=90.0, allow_inf_nan=False)
    longitude: float | None = Field(default=None, ge=-180.0, le=180.0, allow_inf_nan=False)
    possible_proxy: bool = False
    verified: bool = False

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Self:
        needs_value = {
            EvidenceKind.IP: "an IP address",
            EvidenceKind.PHONE: "a number",
            EvidenceKind.ZIP: "a ZIP code",
        }
        if self.kind in needs_value and not self.value:
            raise ValueError(f"value: {self.kind} evidence needs {needs_value[self.kind]}, got {self.value!r}")
        if self.kind is EvidenceKind.CELL_COORDINATES and (self.latitude is None or self.longitude is None):
            raise ValueError(
                f"latitude, longitude: cell coordinates need both, got ({self.latitude}, {self.longitude})"
            )
        if self.kind is EvidenceKind.ADDRESS and not (self.region or self.zip_code or self.country):
            raise ValueError("region, zip_code, country: an address needs at least one of them, got none")
        if self.kind is EvidenceKind.ESTIMATED_LOCATION and not (self.region or self.country):
            raise ValueError("region, country: an estimated location needs at least one of them, got none")
        return self

    @classmethod
    def ip(
        cls, address: str, *, party: EvidenceParty = EvidenceParty.REPORTED_USER, possible_proxy: bool = False
    ) -> Self:
        """An ``ipCaptureEvent``."""
        return cls(kind=EvidenceKind.IP, party=party, value=address, possible_proxy=possible_proxy)

    @classmethod
    def address(
        cls,
        *,
        state: str | None = None,
        zip_code: str | None = None,
        country: str | None = None,
        party: EvidenceParty = EvidenceParty.REPORTED_USER,
        verified: bool = False,
    ) -> Self:
        """An ``address`` (its state, ZIP code and country; street and city do not decide the state)."""
        return cls(
            kind=EvidenceKind.ADDRESS,
            party=party,
            region=state,
            zip_code=zip_code,
            country=country,
            verified=verified,
        )

    @classmethod
    def zip(cls, zip_code: str, *, party: EvidenceParty = EvidenceParty.REPORTED_USER) -> Self:
        """A ZIP code given on its own (a public-form field, say)."""
        return cls(kind=EvidenceKind.ZIP, party=party, value=zip_code)

    @classmethod
    def phone(cls, number: str, *, party: EvidenceParty = EvidenceParty.REPORTED_USER, verified: bool = False) -> Self:
        """A ``phone`` (with a leading ``+`` for numbers outside the US)."""
        return cls(kind=EvidenceKind.PHONE, party=party, value=number, verified=verified)

    @classmethod
    def estimated(
        cls,
        *,
        region: str | None = None,
        country: str | None = None,
        party: EvidenceParty = EvidenceParty.REPORTED_USER,
        verified: bool = False,
    ) -> Self:
        """An ``estimatedLocation`` (region and countryCode; the city does not decide the state)."""
        return cls(
            kind=EvidenceKind.ESTIMATED_LOCATION,
            party=party,
            region=region,
            country=country,
            verified=verified,
        )

    @classmethod
    def cell(cls, latitude: float, longitude: float, *, party: EvidenceParty = EvidenceParty.INCIDENT) -> Self:
        """The coordinates of a ``cellPhoneIncident``."""
        return cls(kind=EvidenceKind.CELL_COORDINATES, party=party, latitude=latitude, longitude=longitude)


@dataclass(frozen=True, slots=True)
class LocationDecision:
    """Where a report is believed to be, how sure that is, and which evidence decided it."""

    country_code: str | None
    state: str | None
    confidence: float
    evidence: tuple[LocationEvidence, ...]
    rule: str

    @property
    def release_jurisdiction(self) -> str:
        """The jurisdiction to release to: the state, INTL for another country, FED if unknown or US-only."""
        if self.state is not None:
            return self.state
        if self.country_code is not None and self.country_code != US:
            return INTERNATIONAL
        return FEDERAL


@dataclass(frozen=True, slots=True)
class _Placed:
    item: LocationEvidence
    country: str
    state: str | None
    weight: float


def _country_code(text: str | None) -> str | None:
    """An ISO alpha-2 code from a code or a US spelling; a territory's own code is kept (mapped later)."""
    if not text:
        return None
    cleaned = " ".join(text.replace(".", "").casefold().split())
    if cleaned in _US_COUNTRY_NAMES:
        return US
    if len(cleaned) == 2 and cleaned.isalpha():
        code = cleaned.upper()
        return None if code in NOT_A_COUNTRY else code
    # "Puerto Rico" written out as a country; other names (a state's, or "Georgia") are not guessed at.
    territory = _us_state(text)
    return territory if territory in TERRITORY_CODES else None


def _us_state(text: str | None) -> str | None:
    try:
        return find_state(text).code if text else None
    except UnknownJurisdiction:
        return None


def _place(item: LocationEvidence, ip_resolver: IpResolver | None) -> tuple[str, str | None, bool] | None:
    """(country, state or None, anonymous) for one item, or None when it cannot be placed."""
    anonymous = False
    if item.kind is EvidenceKind.IP:
        found = ip_resolver.resolve(item.value or "") if ip_resolver is not None else None
        if found is None:
            return None
        country, state, anonymous = found.country_code, found.subdivision_code, found.anonymous
        if country is None:
            return None
    elif item.kind is EvidenceKind.ZIP:
        state = _zip_state(item.value)
        return (US, state, False) if state else None
    elif item.kind is EvidenceKind.PHONE:
        return _place_phone(item.value or "")
    elif item.kind is EvidenceKind.CELL_COORDINATES:
        # The model's validator guarantees both coordinates for this kind.
        assert item.latitude is not None
        assert item.longitude is not None
        try:
            return US, state_from_coordinates(item.latitude, item.longitude).code, False
        except UnknownJurisdiction:
            return None
    else:  # address or estimated location
        country = _country_code(item.country)
        state = _us_state(item.region)
        if state is None and item.kind is EvidenceKind.ADDRESS:
            state = _zip_state(item.zip_code)
        if country is None and state is None:
            return None
        country = country or US  # a US state without a country is taken as the US
    territory = us_place_for_country(country)
    if territory is not None:
        return US, territory.code, anonymous
    if country != US:
        return country, None, anonymous
    return US, _us_state(state) if state else None, anonymous


def _zip_state(zip_code: str | None) -> str | None:
    try:
        return state_from_zip(zip_code).code if zip_code else None
    except UnknownJurisdiction:
        return None


def _place_phone(number: str) -> tuple[str, str | None, bool] | None:
    try:
        return US, state_from_phone(number).code, False
    except UnknownJurisdiction:
        pass
    try:
        country = country_from_phone(number)
    except UnknownJurisdiction:
        return None
    return country, None, False  # a non-geographic US number still says "US"


def evidence_weight(item: LocationEvidence, *, anonymous: bool = False) -> float:
    """The weight of one placed item: kind weight x party factor x proxy factor (see the module docstring)."""
    weight = KIND_WEIGHTS[item.kind, item.verified] * PARTY_FACTORS[item.party]
    return weight * PROXY_FACTOR if (item.possible_proxy or anonymous) else weight


@dataclass(frozen=True, slots=True)
class _Vote:
    winner: str
    supporters: tuple[_Placed, ...]
    total: float
    runner_up: tuple[str, float] | None
    confidence: float


def _vote(placed: Sequence[_Placed], key: Literal["country", "state"]) -> _Vote:
    groups: dict[str, list[_Placed]] = {}
    for entry in placed:
        code = entry.country if key == "country" else entry.state
        assert code is not None
        groups.setdefault(code, []).append(entry)
    # fsum is exact and products are taken in sorted order: reordering the evidence cannot change the result.
    totals = {code: math.fsum(e.weight for e in entries) for code, entries in groups.items()}
    ranked = sorted(groups, key=lambda code: (-totals[code], -max(e.weight for e in groups[code]), code))
    winner = ranked[0]
    doubt = math.prod(sorted(1.0 - e.weight for e in groups[winner]))
    share = totals[winner] / math.fsum(totals.values())
    runner_up = (ranked[1], totals[ranked[1]]) if len(ranked) > 1 else None
    return _Vote(winner, tuple(groups[winner]), totals[winner], runner_up, round((1.0 - doubt) * share, 4))


def _describe(vote: _Vote, what: str) -> str:
    kinds = ", ".join(f"{e.item.kind} ({e.item.party}) {e.weight:.2f}" for e in vote.supporters)
    text = f"{what} {vote.winner}: weight {vote.total:.2f} from {kinds}"
    if vote.runner_up is not None:
        text += f"; against {vote.runner_up[0]} {vote.runner_up[1]:.2f}"
    return f"{text}; confidence {vote.confidence:.2f}"


def locate(evidence: Sequence[LocationEvidence], *, ip_resolver: IpResolver | None = None) -> LocationDecision:
    """Decide a report's country and state from its location evidence by the weighted vote described above."""
    placed: list[_Placed] = []
    for item in evidence:
        found = _place(item, ip_resolver)
        if found is not None:
            country, state, anonymous = found
            placed.append(_Placed(item, country, state, evidence_weight(item, anonymous=anonymous)))
    if not placed:
        ignored = f" ({len(evidence)} item(s) could not be placed)" if evidence else ""
        return LocationDecision(None, None, 0.0, (), f"no placeable location evidence{ignored}: location unknown")
    country_vote = _vote(placed, "country")
    rule = _describe(country_vote, "country")
    with_state = [e for e in placed if e.country == US and e.state is not None]
    if country_vote.winner != US or not with_state:
        items = tuple(e.item for e in country_vote.supporters)
        return LocationDecision(country_vote.winner, None, country_vote.confidence, items, rule)
    state_vote = _vote(with_state, "state")
    confidence = min(country_vote.confidence, state_vote.confidence)
    rule = f"{_describe(state_vote, 'state')}; {rule}"
    return LocationDecision(US, state_vote.winner, confidence, tuple(e.item for e in state_vote.supporters), rule)
