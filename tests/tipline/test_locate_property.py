"""Property at the report level: for any generated intake document filed in bulk and put through the pipeline,
the located state (and country) is one that the report's own evidence names, the report is released exactly
where the decision points, and the stored clues give the same decision as the intake document itself."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clearinghouse.db.engine import Store
from clearinghouse.geo.models import FEDERAL, INTERNATIONAL
from clearinghouse.tipline import pipeline
from clearinghouse.tipline.evidence import to_locate_evidence
from clearinghouse.tipline.locate import locate
from clearinghouse.tipline.wire_schemas import ReportIntake
from tests.tipline.bulk_helpers import ENTICEMENT, doc, line, ready, releases_of, report_by_ref, send

Place = tuple[str, str | None] | None

# Clues in the intake's own terms, each with the (country, state) the locate rule places it at (None: unplaced).
PERSON_CLUES: list[tuple[dict[str, Any], Place]] = [
    ({"estimated_location": {"region": "NC", "country_code": "US"}}, ("US", "NC")),
    ({"estimated_location": {"region": "Texas", "country_code": "US", "verified": True}}, ("US", "TX")),
    ({"estimated_location": {"country_code": "MX"}}, ("MX", None)),
    ({"estimated_location": {"region": "Atlantis"}}, None),
    ({"person": {"addresses": [{"state": "NY", "country": "US"}]}}, ("US", "NY")),
    ({"person": {"addresses": [{"zip_code": "94103"}]}}, ("US", "CA")),
    ({"person": {"addresses": [{"state": "Bavaria", "country": "DE"}]}}, ("DE", None)),
    ({"person": {"phones": [{"number": "+1 919 555 0123"}]}}, ("US", "NC")),
    ({"person": {"phones": [{"number": "+44 20 7946 0000", "verified": True}]}}, ("GB", None)),
    ({"person": {"phones": [{"number": "+1 800 555 0100"}]}}, ("US", None)),
    ({"ip_capture_events": [{"ip_address": "192.0.2.10", "possible_proxy": True}]}, None),  # no IP database
    ({"associated_accounts": [{"type": "linked", "person": {"addresses": [{"state": "AL"}]}}]}, ("US", "AL")),
]
INCIDENT_CLUES: list[tuple[dict[str, Any], Place]] = [
    ({"channel": "cellPhoneIncident", "latitude": 35.7796, "longitude": -78.6382}, ("US", "NC")),
    ({"channel": "cellPhoneIncident", "latitude": 38.8895, "longitude": -77.0353}, ("US", "DC")),
    ({"channel": "cellPhoneIncident", "latitude": 35.0, "longitude": -50.0}, None),
    ({"channel": "nonInternetIncident", "addresses": [{"state": "ND"}]}, ("US", "ND")),
    ({"channel": "chatImIncident", "content": "synthetic"}, None),
]


def _merge(parts: list[tuple[dict[str, Any], Place]]) -> tuple[dict[str, Any], list[Place]]:
    party: dict[str, Any] = {}
    for clue, _ in parts:
        for key, value in clue.items():
            if key == "person":
                person = party.setdefault("person", {})
                for field, items in value.items():
                    person.setdefault(field, []).extend(items)
            elif key == "estimated_location":
                party.setdefault(key, value)  # one estimated location per party
            else:
                party.setdefault(key, []).extend(value)
    kept = party.get("estimated_location")
    places = [place for clue, place in parts if clue.get("estimated_location", kept) is kept]
    return party, places


@st.composite
def reports(draw: st.DrawFn) -> tuple[dict[str, Any], set[Place]]:
    """An intake document and the places its clues name."""
    places: set[Place] = set()
    document = doc(incident_type=draw(st.sampled_from([ENTICEMENT, doc()["incident_type"]])))
    for role in ("reported_persons", "victims", "intended_recipients"):
        parties = []
        for _ in range(draw(st.integers(0, 2))):
            party, named = _merge(draw(st.lists(st.sampled_from(PERSON_CLUES), max_size=3)))
            parties.append(party)
            places.update(named)
        if parties:
            document[role] = parties
    incidents = draw(st.lists(st.sampled_from(INCIDENT_CLUES), max_size=3))
    if incidents:
        document["incident_details"] = [clue for clue, _ in incidents]
        places.update(place for _, place in incidents)
    return document, places


_refs = itertools.count()


@pytest.fixture(scope="module")
def located_store(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Any) -> Any:
    import shutil

    path = tmp_path_factory.mktemp("property") / "store.db"
    shutil.copyfile(sqlite_template, path)
    store = Store(f"sqlite:///{path}")
    yield store, ready(store)
    store.dispose()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(generated=reports())
def test_a_report_is_located_only_where_its_own_evidence_points(
    located_store: tuple[Store, int], generated: tuple[dict[str, Any], set[Place]]
) -> None:
    store, platform = located_store
    document, places = generated
    ref = f"property-{next(_refs)}"
    assert send(store, platform, [line(ref, document)]).accepted == 1
    pipeline.run(store)
    report = report_by_ref(store, platform, ref)
    named = {place for place in places if place is not None}
    assert report.state_code is None or report.state_code in {state for _, state in named}
    assert report.country_code is None or report.country_code in {country for country, _ in named}
    if not named:
        assert (report.country_code, report.state_code) == (None, None)
    expected = report.state_code or (INTERNATIONAL if report.country_code not in (None, "US") else FEDERAL)
    assert releases_of(store, report.id) == {expected}
    intake = ReportIntake.model_validate(document)
    direct = locate(to_locate_evidence(intake.location_evidence()))
    assert (direct.country_code, direct.state) == (report.country_code, report.state_code)
