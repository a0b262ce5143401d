"""A report's location clues as the pipeline stores them, taken straight from the intake document.

This gives the same list as building the intake's `LocationEvidence` items, converting each with
`evidence.to_locate_evidence` and dumping it without defaults, but without building two Pydantic models per
clue: at bulk volumes that round trip cost more than validating the whole report. One difference on purpose:
a clue whose only text is blank (an address whose state, ZIP code and country are all empty strings, an IP
address of spaces) is left out rather than refused, as it carries nothing to place.
`tests/tipline/test_clues.py` holds the two ways equal on generated reports.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from clearinghouse.tipline.wire_schemas import (
    Address,
    EstimatedLocation,
    IncidentDetail,
    IpCaptureEvent,
    Party,
    Person,
    Phone,
    ReportIntake,
)

Clue = dict[str, object]

# Party roles of the locate step; "reported_user" is its default and so is left out of a stored clue.
_REPORTED, _VICTIM, _INCIDENT = None, "victim", "incident"


def _text(value: str | None) -> str | None:
    """The locate step's models strip whitespace (an empty result is kept, as they keep it)."""
    return None if value is None else value.strip()


def _clue(kind: str, party: str | None, **fields: object) -> Clue:
    clue: Clue = {"kind": kind}
    if party is not None:
        clue["party"] = party
    for name, value in fields.items():
        if value is not None and value is not False:
            clue[name] = value
    return clue


def _ips(events: Sequence[IpCaptureEvent], party: str | None, out: list[Clue]) -> None:
    for event in events:
        value = _text(event.ip_address)
        if value:
            out.append(_clue("ip", party, value=value, possible_proxy=bool(event.possible_proxy)))


def _address(address: Address, party: str | None, out: list[Clue]) -> None:
    region, zip_code, country = _text(address.state), _text(address.zip_code), _text(address.country)
    if not (region or zip_code or country):
        return
    out.append(_clue("address", party, region=region, zip_code=zip_code, country=country))


def _phone(phone: Phone, party: str | None, out: list[Clue]) -> None:
    value = _text(phone.number)
    if value:
        out.append(_clue("phone", party, value=value, verified=bool(phone.verified)))


def _person(person: Person, party: str | None, out: list[Clue]) -> None:
    for address in person.addresses:
        _address(address, party, out)
    for phone in person.phones:
        _phone(phone, party, out)


def _estimated(location: EstimatedLocation, party: str | None, out: list[Clue]) -> None:
    region, country = _text(location.region), _text(location.country_code)
    if not (region or country):
        return
    out.append(_clue("estimated_location", party, region=region, country=country, verified=bool(location.verified)))


def _party(party: Party, role: str | None, out: list[Clue]) -> None:
    _ips(party.ip_capture_events, role, out)
    if party.estimated_location is not None:
        _estimated(party.estimated_location, role, out)
    _person(party.person, role, out)
    for account in party.associated_accounts:
        _ips(account.ip_capture_events, role, out)
        _person(account.person, role, out)


def _on_the_globe(latitude: float | None, longitude: float | None) -> bool:
    # The wire format allows any double for coordinates, INF and NaN included.
    if latitude is None or longitude is None or not (math.isfinite(latitude) and math.isfinite(longitude)):
        return False
    return -90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0


def _incident(detail: IncidentDetail, out: list[Clue]) -> None:
    if detail.phone is not None:
        _phone(detail.phone, _INCIDENT, out)
    if _on_the_globe(detail.latitude, detail.longitude):
        out.append(_clue("cell_coordinates", _INCIDENT, latitude=detail.latitude, longitude=detail.longitude))
    for address in detail.addresses:
        _address(address, _INCIDENT, out)
    _ips(detail.ip_capture_events, _INCIDENT, out)


def clues_of(intake: ReportIntake) -> list[Clue]:
    """Every usable location clue of the report, in the order of `ReportIntake.location_evidence()`."""
    out: list[Clue] = []
    for party in intake.reported_persons:
        _party(party, _REPORTED, out)
    # The intended recipient of an enticement is usually the child: weighed like a victim (see evidence.py).
    for party in intake.intended_recipients:
        _party(party, _VICTIM, out)
    for party in intake.victims:
        _party(party, _VICTIM, out)
    for detail in intake.incident_details:
        _incident(detail, out)
    return out
