"""The agency directory, its idempotent seeding, and the geo service functions, on a real store."""

from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa

from clearinghouse.db.engine import Store
from clearinghouse.geo.agencies import DirectoryError, SeedResult, directory, parse_directory, seed_directory
from clearinghouse.geo.jurisdictions import US_JURISDICTIONS, UnknownJurisdiction
from clearinghouse.geo.models import FEDERAL, INTERNATIONAL, Agency, AgencyKind, Jurisdiction, JurisdictionKind
from clearinghouse.geo.service import (
    DuplicateAgency,
    create_agency,
    get_jurisdiction,
    list_agencies,
    list_jurisdictions,
    task_forces_for,
)

US_CODES = [info.code for info in US_JURISDICTIONS]


def _rows(store: Store) -> tuple[list[tuple[str, str, str, str | None]], list[tuple[str, str, str, bool]]]:
    with store.unit_of_work() as session:
        jurisdictions = [(j.code, j.name, j.kind.value, j.fips) for j in list_jurisdictions(session=session)]
        agencies = [(a.jurisdiction_code, a.name, a.kind.value, a.active) for a in list_agencies(session=session)]
    return jurisdictions, agencies


@pytest.fixture
def seeded(store: Store) -> Store:
    with store.unit_of_work() as session:
        seed_directory(session)
    return store


# The directory file -----------------------------------------------------------------------------------------


def test_directory_covers_every_place_with_task_force_police_and_social_services() -> None:
    kinds_by_place: dict[str, Counter[AgencyKind]] = {}
    for entry in directory():
        kinds_by_place.setdefault(entry.jurisdiction_code, Counter())[entry.kind] += 1
    for code in US_CODES:
        kinds = kinds_by_place[code]
        assert kinds[AgencyKind.ICAC_TASK_FORCE] >= 1, code
        assert kinds[AgencyKind.STATE_LAW_ENFORCEMENT] >= 1, code
        assert kinds[AgencyKind.SOCIAL_SERVICES] >= 1, code
    task_forces = Counter(e.jurisdiction_code for e in directory() if e.kind is AgencyKind.ICAC_TASK_FORCE)
    assert sum(task_forces.values()) == 61
    assert task_forces["CA"] >= 3
    assert all(task_forces[code] >= 2 for code in ("TX", "FL", "NY"))
    assert kinds_by_place[FEDERAL][AgencyKind.FEDERAL_LAW_ENFORCEMENT] >= 2
    assert kinds_by_place[INTERNATIONAL][AgencyKind.INTERNATIONAL_LAW_ENFORCEMENT] == 1
    names = {e.name for e in directory()}
    assert "California ICAC Task Force (Los Angeles region)" in names
    assert "North Carolina Department of Social Services (child welfare)" in names


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("code,kind,name\n", "header must be jurisdiction_code,kind,name"),
        ("jurisdiction_code,kind,name\nZZ,icac_task_force,X\n", "line 2: column jurisdiction_code: .*'ZZ'"),
        ("jurisdiction_code,kind,name\nNC,sheriff,X\n", "line 2: column kind: expected one of .*'sheriff'"),
        ("jurisdiction_code,kind,name\nNC,icac_task_force,\n", "line 2: column name is empty"),
        ("jurisdiction_code,kind,name\nNC,icac_task_force,A\nNC,icac_task_force,A\n", "line 3: .*appears twice"),
    ],
)
def test_directory_errors_name_line_column_and_value(text: str, message: str) -> None:
    with pytest.raises(DirectoryError, match=message):
        parse_directory(text)


# Seeding ----------------------------------------------------------------------------------------------------


def test_seeding_twice_leaves_the_same_rows(store: Store) -> None:
    with store.unit_of_work() as session:
        first = seed_directory(session)
    after_first = _rows(store)
    with store.unit_of_work() as session:
        second = seed_directory(session)
    assert first == SeedResult(jurisdictions_added=58, jurisdictions_updated=0, agencies_added=len(directory()))
    assert second == SeedResult(0, 0, 0)
    assert _rows(store) == after_first
    jurisdictions, agencies = after_first
    assert len(jurisdictions) == 58
    assert len(agencies) == len(directory())


def test_seeding_twice_in_one_unit_of_work_is_also_idempotent(store: Store) -> None:
    with store.unit_of_work() as session:
        seed_directory(session)
        assert seed_directory(session) == SeedResult(0, 0, 0)


def test_seeding_does_not_commit(store: Store) -> None:
    session = store.session()
    try:
        seed_directory(session)
        session.rollback()
    finally:
        session.close()
    assert _rows(store) == ([], [])


def test_reseeding_keeps_deactivations_and_added_agencies_and_repairs_names(seeded: Store) -> None:
    with seeded.unit_of_work() as session:
        alaska = list_agencies(session=session, jurisdiction_code="AK", kind=AgencyKind.ICAC_TASK_FORCE)[0]
        alaska.active = False
        create_agency(
            session=session,
            name="Anchorage liaison office",
            kind=AgencyKind.LOCAL_LAW_ENFORCEMENT,
            jurisdiction_code="AK",
        )
        nc = get_jurisdiction(session=session, code="NC")
        assert nc is not None
        nc.name = "Old North State"
    with seeded.unit_of_work() as session:
        assert seed_directory(session) == SeedResult(0, 1, 0)
    with seeded.unit_of_work() as session:
        assert not session.scalar(sa.select(Agency.active).where(Agency.name == "Alaska ICAC Task Force"))
        assert [a.name for a in list_agencies(session=session, kind=AgencyKind.LOCAL_LAW_ENFORCEMENT)] == [
            "Anchorage liaison office"
        ]
        nc = get_jurisdiction(session=session, code="nc")
        assert nc is not None
        assert nc.name == "North Carolina"


# Service functions -------------------------------------------------------------------------------------------


def test_get_and_list_jurisdictions(seeded: Store) -> None:
    with seeded.unit_of_work() as session:
        pr = get_jurisdiction(session=session, code="pr")
        assert pr is not None
        assert (pr.code, pr.name, pr.kind, pr.fips) == ("PR", "Puerto Rico", JurisdictionKind.TERRITORY, "72")
        assert get_jurisdiction(session=session, code="ZZ") is None
        states = list_jurisdictions(session=session, kind=JurisdictionKind.STATE)
        assert len(states) == 50
        assert [j.code for j in states] == sorted(j.code for j in states)


def test_list_agencies_filters(seeded: Store) -> None:
    with seeded.unit_of_work() as session:
        california = list_agencies(session=session, jurisdiction_code="ca")
        assert {a.kind for a in california} == {
            AgencyKind.ICAC_TASK_FORCE,
            AgencyKind.STATE_LAW_ENFORCEMENT,
            AgencyKind.SOCIAL_SERVICES,
        }
        social = list_agencies(session=session, kind=AgencyKind.SOCIAL_SERVICES)
        assert {a.jurisdiction_code for a in social} == set(US_CODES)


@pytest.mark.parametrize("code", US_CODES)
def test_task_forces_for_every_place_are_its_icac_task_forces(seeded: Store, code: str) -> None:
    with seeded.unit_of_work() as session:
        agencies = task_forces_for(session=session, jurisdiction_code=code)
        assert agencies
        assert all(a.kind is AgencyKind.ICAC_TASK_FORCE and a.jurisdiction_code == code for a in agencies)


def test_task_forces_for_the_buckets_and_the_large_states(seeded: Store) -> None:
    with seeded.unit_of_work() as session:
        federal = task_forces_for(session=session, jurisdiction_code=FEDERAL)
        assert {a.name for a in federal} >= {
            "Federal law enforcement liaison (FBI)",
            "Homeland Security Investigations liaison",
        }
        assert all(a.kind is AgencyKind.FEDERAL_LAW_ENFORCEMENT for a in federal)
        international = task_forces_for(session=session, jurisdiction_code="intl")
        assert [a.name for a in international] == ["International law-enforcement liaison"]
        assert len(task_forces_for(session=session, jurisdiction_code="CA")) == 3


def test_task_forces_fall_back_to_state_police_then_to_federal(seeded: Store) -> None:
    with seeded.unit_of_work() as session:
        for agency in list_agencies(session=session, jurisdiction_code="VT", kind=AgencyKind.ICAC_TASK_FORCE):
            agency.active = False
        assert [a.kind for a in task_forces_for(session=session, jurisdiction_code="VT")] == [
            AgencyKind.STATE_LAW_ENFORCEMENT
        ]
        for agency in list_agencies(session=session, jurisdiction_code="VT"):
            agency.active = False
        fallback = task_forces_for(session=session, jurisdiction_code="VT")
        assert fallback
        assert {a.jurisdiction_code for a in fallback} == {FEDERAL}


def test_task_forces_for_an_unknown_code_is_a_clear_error(seeded: Store, store: Store) -> None:
    with seeded.unit_of_work() as session, pytest.raises(UnknownJurisdiction, match="'ZZ'"):
        task_forces_for(session=session, jurisdiction_code="ZZ")


def test_unseeded_store_error_says_to_seed(store: Store) -> None:
    with store.unit_of_work() as session, pytest.raises(UnknownJurisdiction, match="run seed_directory first"):
        task_forces_for(session=session, jurisdiction_code="NC")


def test_create_agency(seeded: Store) -> None:
    with seeded.unit_of_work() as session:
        agency = create_agency(
            session=session,
            name="  Wake County   child-exploitation unit ",
            kind=AgencyKind.LOCAL_LAW_ENFORCEMENT,
            jurisdiction_code="nc",
        )
        assert agency.id is not None
        assert (agency.name, agency.jurisdiction_code, agency.active) == (
            "Wake County child-exploitation unit",
            "NC",
            True,
        )
    with seeded.unit_of_work() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Agency).where(Agency.id == agency.id)) == 1


def test_create_agency_errors(seeded: Store) -> None:
    with seeded.unit_of_work() as session:
        with pytest.raises(UnknownJurisdiction, match=r"'Narnia'.*jurisdiction code present in the store"):
            create_agency(session=session, name="X", kind=AgencyKind.SOCIAL_SERVICES, jurisdiction_code="Narnia")
        with pytest.raises(DuplicateAgency, match="NC already has an agency named 'North Carolina ICAC Task Force'"):
            create_agency(
                session=session,
                name="North Carolina ICAC Task Force",
                kind=AgencyKind.ICAC_TASK_FORCE,
                jurisdiction_code="NC",
            )
        with pytest.raises(ValueError, match="name: an agency needs a name"):
            create_agency(session=session, name="  ", kind=AgencyKind.SOCIAL_SERVICES, jurisdiction_code="NC")


def test_create_agency_does_not_commit(seeded: Store) -> None:
    session = seeded.session()
    try:
        create_agency(session=session, name="Draft office", kind=AgencyKind.SOCIAL_SERVICES, jurisdiction_code="NC")
        session.rollback()
    finally:
        session.close()
    with seeded.unit_of_work() as check:
        assert check.scalar(sa.select(Agency).where(Agency.name == "Draft office")) is None
        assert check.scalar(sa.select(sa.func.count()).select_from(Jurisdiction)) == 58
