"""Lookups of states, DC and territories by name, abbreviation, FIPS code, ZIP code and telephone number."""

from __future__ import annotations

import pytest
import us
import zipcodes

from clearinghouse.geo.jurisdictions import (
    ALL_JURISDICTIONS,
    US_JURISDICTIONS,
    UnknownJurisdiction,
    country_from_phone,
    find_state,
    get_jurisdiction_info,
    state_from_phone,
    state_from_zip,
    us_place_for_country,
)
from clearinghouse.geo.models import FEDERAL, INTERNATIONAL, JurisdictionKind

CODES = [info.code for info in US_JURISDICTIONS]


def test_there_are_56_us_places_and_two_buckets() -> None:
    kinds = [info.kind for info in US_JURISDICTIONS]
    assert len(US_JURISDICTIONS) == 56
    assert kinds.count(JurisdictionKind.STATE) == 50
    assert kinds.count(JurisdictionKind.DISTRICT) == 1
    assert {i.code for i in US_JURISDICTIONS if i.kind is JurisdictionKind.TERRITORY} == {
        "AS",
        "GU",
        "MP",
        "PR",
        "VI",
    }
    assert [i.code for i in ALL_JURISDICTIONS[-2:]] == [FEDERAL, INTERNATIONAL]
    assert len({i.name for i in ALL_JURISDICTIONS}) == len(ALL_JURISDICTIONS)
    assert all(info.fips and len(info.fips) == 2 for info in US_JURISDICTIONS)
    assert len({info.fips for info in US_JURISDICTIONS}) == 56


@pytest.mark.parametrize("code", CODES)
def test_every_place_is_found_by_code_name_and_fips_in_any_case(code: str) -> None:
    info = get_jurisdiction_info(code)
    spellings = [
        code,
        code.lower(),
        info.name,
        info.name.upper(),
        info.name.lower(),
        f"  {'   '.join(info.name.split())}  ",
        info.fips,
    ]
    for spelling in spellings:
        assert spelling is not None
        assert find_state(spelling) == info, spelling


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("north carolina", "NC"),
        ("N.C.", "NC"),
        ("n.c.", "NC"),
        ("NORTH CAROLINA", "NC"),
        ("37", "NC"),
        ("6", "CA"),
        ("Calif.", "CA"),
        ("W.Va.", "WV"),
        ("Washington, D.C.", "DC"),
        ("washington dc", "DC"),
        ("District of Columbia", "DC"),
        ("Washington State", "WA"),
        ("U.S. Virgin Islands", "VI"),
        ("CNMI", "MP"),
        ("puerto rico", "PR"),
        ("north-carolina", "NC"),
    ],
)
def test_common_spellings(text: str, code: str) -> None:
    assert find_state(text).code == code


@pytest.mark.parametrize("text", ["Narnia", "", "   ", "FED", "INTL", "99", "North", "Carolina", "XX"])
def test_unknown_text_raises_an_error_naming_what_was_given(text: str) -> None:
    with pytest.raises(UnknownJurisdiction) as caught:
        find_state(text)
    assert repr(text) in str(caught.value)
    assert "expected" in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert caught.value.given == text


def test_codes_of_the_buckets_are_known_but_are_not_states() -> None:
    assert get_jurisdiction_info("fed").kind is JurisdictionKind.FEDERAL
    assert get_jurisdiction_info(" intl ").kind is JurisdictionKind.INTERNATIONAL
    assert not get_jurisdiction_info(FEDERAL).is_us_place
    with pytest.raises(UnknownJurisdiction, match="'ZZ'"):
        get_jurisdiction_info("ZZ")


def test_us_place_for_country_maps_only_the_territories() -> None:
    assert [us_place_for_country(c) for c in ("pr", "GU", "VI", "AS", "MP")] == [
        get_jurisdiction_info(c) for c in ("PR", "GU", "VI", "AS", "MP")
    ]
    assert us_place_for_country("US") is None
    assert us_place_for_country("MX") is None


# ZIP codes -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zip_code", "code"),
    [
        ("27601", "NC"),
        ("27601-1234", "NC"),
        ("276011234", "NC"),
        (" 10001 ", "NY"),
        ("20500", "DC"),
        ("99501", "AK"),
        ("00901", "PR"),
        ("96910", "GU"),
        ("00802", "VI"),
        ("96799", "AS"),
        ("96950", "MP"),
    ],
)
def test_state_from_zip(zip_code: str, code: str) -> None:
    assert state_from_zip(zip_code).code == code


@pytest.mark.parametrize("code", CODES)
def test_every_place_has_zip_codes_that_lead_back_to_it(code: str) -> None:
    rows = zipcodes.filter_by(state=code)  # type: ignore[no-untyped-call]
    assert rows, f"no ZIP code for {code}"
    assert state_from_zip(rows[0]["zip_code"]).code == code


@pytest.mark.parametrize(
    ("zip_code", "message"),
    [
        ("abc", "five-digit ZIP code"),
        ("1234", "five-digit ZIP code"),
        ("096011", "five-digit ZIP code"),  # the zipcodes package alone would truncate this to 09601
        ("99999", "not in the ZIP code directory"),
        ("09601", "assigned to AE"),  # military post
    ],
)
def test_bad_zip_codes_raise_clear_errors(zip_code: str, message: str) -> None:
    with pytest.raises(UnknownJurisdiction, match=message) as caught:
        state_from_zip(zip_code)
    assert repr(zip_code) in str(caught.value)


# Telephone numbers -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("+1 919 555 0123", "NC"),
        ("919-555-0123", "NC"),
        ("(212) 555-0100", "NY"),
        ("+1 202 555 0100", "DC"),  # described as "Washington D.C."
        ("+1 206 555 0100", "WA"),  # described as "Washington State"
        ("+1 213 555 0100", "CA"),  # described as "Los Angeles, CA"
        ("+1 787 555 0100", "PR"),
        ("+1 671 555 0100", "GU"),
        ("+1 340 234 5678", "VI"),
        ("+1 684 555 0100", "AS"),
        ("+1 670 555 0100", "MP"),
    ],
)
def test_state_from_phone(number: str, code: str) -> None:
    assert state_from_phone(number).code == code


def test_default_region_applies_to_numbers_without_a_country_code() -> None:
    assert country_from_phone("020 7946 0000", default_region="GB") == "GB"
    with pytest.raises(UnknownJurisdiction, match="country GB"):
        state_from_phone("020 7946 0000", default_region="GB")


def test_every_us_area_code_the_geocoder_describes_resolves_to_a_state() -> None:
    import phonenumbers
    from phonenumbers import geocoder

    resolved = 0
    for area_code in range(200, 1000):
        number = f"+1{area_code}2345678"
        parsed = phonenumbers.parse(number)
        if phonenumbers.region_code_for_number(parsed) != "US":
            continue
        if geocoder.description_for_number(parsed, "en"):
            assert state_from_phone(number).is_us_place
            resolved += 1
    assert resolved > 250


@pytest.mark.parametrize(("number", "country"), [("+44 20 7946 0000", "GB"), ("+52 55 1234 5678", "MX")])
def test_country_from_phone_for_numbers_outside_the_us(number: str, country: str) -> None:
    assert country_from_phone(number) == country
    with pytest.raises(UnknownJurisdiction, match=f"country {country}"):
        state_from_phone(number)


@pytest.mark.parametrize(
    ("number", "message"),
    [("+1 800 555 0100", "not geographic"), ("not a number", "telephone number"), ("", "telephone number")],
)
def test_unplaceable_numbers_raise_clear_errors(number: str, message: str) -> None:
    with pytest.raises(UnknownJurisdiction, match=message):
        state_from_phone(number)


def test_the_us_package_still_has_what_we_rely_on() -> None:
    # A guard for upgrades of the `us` package: the list of places and their FIPS codes must not move.
    assert len(us.states.STATES_AND_TERRITORIES) == 56
    north_carolina = us.states.lookup("NC")
    assert north_carolina is not None
    assert north_carolina.fips == "37"
