"""Turns the location clues of an intake (as the platform structured them) into the locate step's evidence."""

from __future__ import annotations

from collections.abc import Iterable

from clearinghouse.tipline.locate import EvidenceKind, EvidenceParty, LocationEvidence
from clearinghouse.tipline.wire_schemas import LocationEvidence as IntakeEvidence

_PARTY = {
    "reported_person": EvidenceParty.REPORTED_USER,
    # The intended recipient of an enticement is usually the child: weigh it like a victim.
    "intended_recipient": EvidenceParty.VICTIM,
    "victim": EvidenceParty.VICTIM,
    "incident": EvidenceParty.INCIDENT,
    "file": EvidenceParty.FILE,
}


def _convert(item: IntakeEvidence) -> LocationEvidence | None:
    party = _PARTY[item.party]
    if item.ip is not None:
        return LocationEvidence(
            kind=EvidenceKind.IP,
            party=party,
            value=item.ip.ip_address,
            possible_proxy=bool(item.ip.possible_proxy),
        )
    if item.estimated_location is not None:
        location = item.estimated_location
        if location.region is None and location.country_code is None:
            return None
        return LocationEvidence(
            kind=EvidenceKind.ESTIMATED_LOCATION,
            party=party,
            region=location.region,
            country=location.country_code,
            verified=bool(location.verified),
        )
    if item.address is not None:
        address = item.address
        if address.state is None and address.zip_code is None and address.country is None:
            return None
        return LocationEvidence(
            kind=EvidenceKind.ADDRESS,
            party=party,
            region=address.state,
            zip_code=address.zip_code,
            country=address.country,
        )
    if item.phone is not None:
        return LocationEvidence(
            kind=EvidenceKind.PHONE, party=party, value=item.phone.number, verified=bool(item.phone.verified)
        )
    if item.coordinates is not None:
        return LocationEvidence(
            kind=EvidenceKind.CELL_COORDINATES,
            party=party,
            latitude=item.coordinates.latitude,
            longitude=item.coordinates.longitude,
        )
    return None


def to_locate_evidence(items: Iterable[IntakeEvidence]) -> list[LocationEvidence]:
    """The locate step's view of every usable intake clue, keeping the party it came from."""
    converted = (_convert(item) for item in items)
    return [item for item in converted if item is not None]
