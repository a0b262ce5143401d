"""The stored clues taken straight from the intake equal those of the Pydantic round trip they replace."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from clearinghouse.tipline.clues import clues_of
from clearinghouse.tipline.evidence import to_locate_evidence
from clearinghouse.tipline.wire_schemas import ReportIntake
from tests.tipline.bulk_helpers import doc

text = st.one_of(st.none(), st.sampled_from(["NC", " ny ", "Texas", "US", "MX", "", "  ", "27601", "+1 919 555 0123"]))
flag = st.one_of(st.none(), st.booleans())
address = st.fixed_dictionaries({}, optional={"state": text, "zip_code": text, "country": text, "city": text})
phone = st.builds(lambda number, verified: {"number": number or "x", "verified": verified}, text, flag)
ip = st.builds(lambda value, proxy: {"ip_address": value or "192.0.2.1", "possible_proxy": proxy}, text, flag)
estimated = st.fixed_dictionaries({}, optional={"region": text, "country_code": text, "verified": flag, "city": text})
person = st.fixed_dictionaries(
    {}, optional={"addresses": st.lists(address, max_size=2), "phones": st.lists(phone, max_size=2)}
)
party = st.fixed_dictionaries(
    {},
    optional={
        "person": person,
        "ip_capture_events": st.lists(ip, max_size=2),
        "estimated_location": estimated,
        "associated_accounts": st.lists(
            st.builds(
                lambda p, i: {"type": "linked", "person": p, "ip_capture_events": i}, person, st.lists(ip, max_size=1)
            ),
            max_size=1,
        ),
    },
)
coordinate = st.one_of(
    st.none(), st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([35.78, -78.64, 91.0])
)
incident = st.builds(
    lambda lat, lon, addresses, ips, number: {
        "channel": "cellPhoneIncident",
        "latitude": lat,
        "longitude": lon,
        "addresses": addresses,
        "ip_capture_events": ips,
        **({"phone": {"number": number}} if number else {}),
    },
    coordinate,
    coordinate,
    st.lists(address, max_size=1),
    st.lists(ip, max_size=1),
    text,
)


@st.composite
def intakes(draw: st.DrawFn) -> dict[str, Any]:
    return doc(
        reported_persons=draw(st.lists(party, max_size=2)),
        intended_recipients=draw(st.lists(party, max_size=1)),
        victims=draw(st.lists(party, max_size=2)),
        incident_details=draw(st.lists(incident, max_size=2)),
    )


def _round_trip(intake: ReportIntake) -> list[dict[str, object]]:
    """The clues by way of the Pydantic models, leaving out each clue they refuse (a blank one)."""
    clues: list[dict[str, object]] = []
    for item in intake.location_evidence():
        try:
            clues.extend(
                evidence.model_dump(mode="json", exclude_defaults=True) for evidence in to_locate_evidence([item])
            )
        except ValidationError:
            continue
    return clues


@settings(max_examples=400, deadline=None)
@given(intakes())
def test_direct_clues_equal_the_round_trip(document: dict[str, Any]) -> None:
    intake = ReportIntake.model_validate(document)
    assert clues_of(intake) == _round_trip(intake)


def test_a_blank_clue_is_left_out() -> None:
    intake = ReportIntake.model_validate(
        doc(reported_persons=[{"person": {"addresses": [{"state": " "}, {"state": "NC"}]}}])
    )
    assert clues_of(intake) == [{"kind": "address", "region": "NC"}]
