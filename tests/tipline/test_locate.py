"""The locate step: evidence -> country, state and confidence by the documented weighted vote."""

from __future__ import annotations

from random import Random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from clearinghouse.geo.ipgeo import IpLocation, StaticIpResolver
from clearinghouse.geo.models import FEDERAL, INTERNATIONAL
from clearinghouse.tipline.locate import (
    EvidenceKind,
    EvidenceParty,
    LocationEvidence,
    evidence_weight,
    locate,
)

E = LocationEvidence
# Documentation address ranges only (RFC 5737 / RFC 3849).
RESOLVER = StaticIpResolver(
    {
        "192.0.2.0/25": IpLocation("US", "NC"),
        "192.0.2.128/25": IpLocation("US", "VA"),
        "198.51.100.0/24": IpLocation("CA", "ON"),
        "203.0.113.0/24": IpLocation("US", "TX", anonymous=True),
        "2001:db8::/32": IpLocation("PR", None),
    }
)

# Each item with the (country, state) it must be placed at; None marks items that cannot be placed.
POOL: list[tuple[LocationEvidence, tuple[str, str | None] | None]] = [
    (E.address(state="North Carolina"), ("US", "NC")),
    (E.address(state="ny", country="United States"), ("US", "NY")),
    (E.address(zip_code="94103"), ("US", "CA")),
    (E.address(state="Bavaria", country="DE"), ("DE", None)),
    (E.zip("27601"), ("US", "NC")),
    (E.zip("20500"), ("US", "DC")),
    (E.zip("00901"), ("US", "PR")),
    (E.zip("99999"), None),
    (E.phone("+1 919 555 0123"), ("US", "NC")),
    (E.phone("(212) 555-0100"), ("US", "NY")),
    (E.phone("+1 787 555 0100"), ("US", "PR")),
    (E.phone("+44 20 7946 0000"), ("GB", None)),
    (E.phone("+1 800 555 0100"), ("US", None)),
    (E.phone("not a phone"), None),
    (E.cell(35.7796, -78.6382), ("US", "NC")),
    (E.cell(38.8895, -77.0353), ("US", "DC")),
    (E.cell(35.0, -50.0), None),
    (E.estimated(region="Texas", country="US"), ("US", "TX")),
    (E.estimated(country="PR"), ("US", "PR")),
    (E.estimated(country="MX", region="Jalisco"), ("MX", None)),
    (E.estimated(region="Atlantis"), None),
    (E.ip("192.0.2.10"), ("US", "NC")),
    (E.ip("192.0.2.200"), ("US", "VA")),
    (E.ip("198.51.100.7"), ("CA", None)),
    (E.ip("203.0.113.5"), ("US", "TX")),
    (E.ip("2001:db8::9"), ("US", "PR")),
    (E.ip("8.8.8.8"), None),
]


def _unflagged(item: LocationEvidence) -> LocationEvidence:
    return item.model_copy(update={"party": EvidenceParty.REPORTED_USER, "possible_proxy": False, "verified": False})


PLACE = {_unflagged(item): place for item, place in POOL}


def _flagged(item: LocationEvidence, party: EvidenceParty, proxy: bool, verified: bool) -> LocationEvidence:
    return item.model_copy(update={"party": party, "possible_proxy": proxy, "verified": verified})


evidence_items = st.builds(
    _flagged,
    st.sampled_from([item for item, _ in POOL]),
    st.sampled_from(list(EvidenceParty)),
    st.booleans(),
    st.booleans(),
)


def _place_of(item: LocationEvidence) -> tuple[str, str | None] | None:
    return PLACE[_unflagged(item)]


@settings(max_examples=300, deadline=None)
@given(st.lists(evidence_items, max_size=8))
def test_located_state_and_country_come_from_the_reports_own_evidence(evidence: list[LocationEvidence]) -> None:
    decision = locate(evidence, ip_resolver=RESOLVER)
    places = [p for p in map(_place_of, evidence) if p is not None]
    assert decision.state is None or decision.state in {state for _, state in places}
    assert decision.country_code is None or decision.country_code in {country for country, _ in places}
    assert 0.0 <= decision.confidence <= 1.0
    assert all(item in evidence for item in decision.evidence)
    for item in decision.evidence:  # every deciding item supports the decision
        place = _place_of(item)
        assert place is not None
        assert place[0] == decision.country_code
        if decision.state is not None:
            assert place[1] == decision.state
    if not places:
        assert (decision.country_code, decision.state, decision.confidence) == (None, None, 0.0)
        assert decision.release_jurisdiction == FEDERAL


@settings(max_examples=150, deadline=None)
@given(st.lists(evidence_items, max_size=8), st.randoms(use_true_random=False))
def test_the_order_of_the_evidence_does_not_matter(evidence: list[LocationEvidence], rng: Random) -> None:
    shuffled = list(evidence)
    rng.shuffle(shuffled)
    first, second = locate(evidence, ip_resolver=RESOLVER), locate(shuffled, ip_resolver=RESOLVER)
    assert (first.country_code, first.state, first.confidence) == (
        second.country_code,
        second.state,
        second.confidence,
    )
    assert set(first.evidence) == set(second.evidence)


@settings(max_examples=150, deadline=None)
@given(st.lists(evidence_items, min_size=1, max_size=6), st.data())
def test_flagging_agreeing_evidence_as_proxy_never_raises_confidence(
    evidence: list[LocationEvidence], data: st.DataObject
) -> None:
    places = {_place_of(item) for item in evidence}
    if len(places) != 1 or None in places:
        return  # only all-agreeing evidence: flagging a dissenting item as a proxy rightly raises confidence
    index = data.draw(st.integers(0, len(evidence) - 1))
    proxied = list(evidence)
    proxied[index] = evidence[index].model_copy(update={"possible_proxy": True})
    before, after = locate(evidence, ip_resolver=RESOLVER), locate(proxied, ip_resolver=RESOLVER)
    assert (after.country_code, after.state) == (before.country_code, before.state)
    assert after.confidence <= before.confidence


# Examples of the rule ----------------------------------------------------------------------------------------


def test_no_evidence_is_unknown_and_goes_to_the_federal_bucket() -> None:
    decision = locate([])
    assert (decision.country_code, decision.state, decision.confidence, decision.evidence) == (None, None, 0.0, ())
    assert decision.release_jurisdiction == FEDERAL
    unplaced = locate([E.zip("99999"), E.ip("192.0.2.1")])  # no IP database configured: IPs are not counted
    assert unplaced.state is None
    assert "2 item(s) could not be placed" in unplaced.rule


def test_proxy_lowers_confidence() -> None:
    plain = locate([E.ip("192.0.2.10")], ip_resolver=RESOLVER)
    proxy = locate([E.ip("192.0.2.10", possible_proxy=True)], ip_resolver=RESOLVER)
    assert (plain.state, proxy.state) == ("NC", "NC")
    assert plain.confidence == pytest.approx(0.40)
    assert proxy.confidence == pytest.approx(0.10)
    anonymous = locate([E.ip("203.0.113.5")], ip_resolver=RESOLVER)  # the database marks it anonymous
    assert anonymous.confidence == pytest.approx(0.10)


def test_a_clean_ip_outvotes_a_proxy_ip() -> None:
    decision = locate([E.ip("203.0.113.5"), E.ip("192.0.2.200")], ip_resolver=RESOLVER)
    assert decision.state == "VA"


@pytest.mark.parametrize(
    ("stronger", "weaker"),
    [
        (E.address(state="NC", verified=True), E.zip("10001")),
        (E.zip("27601"), E.address(state="NY")),
        (E.address(state="NC"), E.cell(40.7128, -74.0060)),
        (E.cell(35.7796, -78.6382), E.phone("+1 212 555 0100")),
        (E.phone("+1 919 555 0123"), E.estimated(region="New York", country="US", verified=True)),
        (E.estimated(region="North Carolina", country="US"), E.ip("192.0.2.200")),
        (E.ip("192.0.2.10"), E.ip("192.0.2.200", possible_proxy=True)),
    ],
)
def test_precedence_of_single_items(stronger: LocationEvidence, weaker: LocationEvidence) -> None:
    for order in ([stronger, weaker], [weaker, stronger]):
        decision = locate(order, ip_resolver=RESOLVER)
        assert decision.state == "NC"
        assert decision.evidence == (stronger,)
    assert evidence_weight(stronger) > evidence_weight(weaker)


def test_agreeing_weaker_items_can_outvote_one_stronger_item() -> None:
    evidence = [E.zip("27601"), E.phone("+1 212 555 0100"), E.estimated(region="NY", country="US")]
    decision = locate(evidence)
    assert decision.state == "NY"  # 0.60 + 0.45 against 0.85
    assert set(decision.evidence) == {evidence[1], evidence[2]}
    assert "against NC 0.85" in decision.rule


def test_conflict_lowers_confidence_and_agreement_raises_it() -> None:
    alone = locate([E.zip("27601")]).confidence
    agreed = locate([E.zip("27601"), E.phone("+1 919 555 0123")]).confidence
    disputed = locate([E.zip("27601"), E.phone("+1 212 555 0100")]).confidence
    assert disputed < alone < agreed


def test_exact_ties_go_to_the_alphabetically_first_state() -> None:
    evidence = [E.phone("+1 212 555 0100"), E.phone("+1 919 555 0123")]
    assert locate(evidence).state == "NC"
    assert locate(evidence[::-1]).state == "NC"


def test_the_reporters_own_address_weighs_little() -> None:
    reporter = E.address(state="California", verified=True, party=EvidenceParty.REPORTER)
    decision = locate([reporter, E.ip("192.0.2.10")], ip_resolver=RESOLVER)
    assert decision.state == "NC"


def test_another_country_goes_to_the_international_bucket() -> None:
    decision = locate([E.estimated(country="MX"), E.phone("+52 55 1234 5678"), E.zip("27601")])
    assert (decision.country_code, decision.state) == ("MX", None)
    assert decision.release_jurisdiction == INTERNATIONAL


def test_us_without_a_state_goes_to_the_federal_bucket() -> None:
    decision = locate([E.phone("+1 800 555 0100")])
    assert (decision.country_code, decision.state, decision.release_jurisdiction) == ("US", None, FEDERAL)


@pytest.mark.parametrize(
    "item",
    [E.estimated(country="PR"), E.address(country="Puerto Rico"), E.phone("+1 787 555 0100"), E.zip("00901")],
)
def test_territories_are_the_us_with_the_territory_as_state(item: LocationEvidence) -> None:
    decision = locate([item])
    assert (decision.country_code, decision.state, decision.release_jurisdiction) == ("US", "PR", "PR")


def test_an_address_uses_its_state_field_before_its_zip_code() -> None:
    assert locate([E.address(state="VA", zip_code="27601")]).state == "VA"
    assert locate([E.address(state="Ontario", zip_code="27601", country="US")]).state == "NC"
    assert locate([E.address(state="Bavaria", country="DE")]).country_code == "DE"


def test_country_names_are_not_guessed_at() -> None:
    assert locate([E.estimated(country="North Carolina")]).country_code is None  # not New Caledonia ("NC")
    assert locate([E.estimated(country="U.S.A.", region="n.c.")]).state == "NC"
    assert locate([E.address(state="GA", country="Georgia")]).state == "GA"  # unknown country name, US state


def test_the_rule_text_names_the_winner_the_evidence_and_the_runner_up() -> None:
    decision = locate([E.address(state="NC", verified=True), E.ip("192.0.2.200")], ip_resolver=RESOLVER)
    assert decision.rule.startswith("state NC: weight 0.95 from address (reported_user)")
    assert "against VA 0.40" in decision.rule
    assert "country US" in decision.rule


# Evidence validation ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": EvidenceKind.IP}, "value: ip evidence needs an IP address"),
        ({"kind": EvidenceKind.ZIP, "value": "   "}, "value: zip evidence needs a ZIP code"),
        ({"kind": EvidenceKind.CELL_COORDINATES, "latitude": 1.0}, "latitude, longitude: cell coordinates"),
        ({"kind": EvidenceKind.CELL_COORDINATES, "latitude": 91.0, "longitude": 0.0}, "less than or equal to 90"),
        ({"kind": EvidenceKind.CELL_COORDINATES, "latitude": float("nan"), "longitude": 0.0}, "finite number"),
        ({"kind": EvidenceKind.ADDRESS}, "an address needs at least one of them"),
        ({"kind": EvidenceKind.ESTIMATED_LOCATION}, "an estimated location needs at least one"),
        ({"kind": "carrier pigeon"}, "kind"),
        ({"kind": EvidenceKind.ZIP, "value": "27601", "colour": "red"}, "colour"),
    ],
)
def test_evidence_is_validated_with_errors_naming_the_field(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        LocationEvidence.model_validate(fields)


def test_evidence_is_frozen_and_hashable() -> None:
    item = E.zip("27601")
    with pytest.raises(ValidationError):
        item.value = "10001"  # type: ignore[misc]
    assert {item, E.zip("27601")} == {item}
