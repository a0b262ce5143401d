"""Professional education: registration, one per e-mail address, lookups and validation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pydantic
import pytest
from faker import Faker

from clearinghouse.access.models import AuditEvent
from clearinghouse.db.engine import Store
from clearinghouse.education import service
from clearinghouse.education.models import Profession, Professional
from clearinghouse.education.schemas import ProfessionalCreate, ProfessionalRead, RegistrationRead
from clearinghouse.errors import InputError, NotFound

NOW = dt.datetime.now(dt.UTC)


def _data(fake: Faker, **changes: Any) -> ProfessionalCreate:
    fields: dict[str, Any] = {
        "email": fake.unique.email(),
        "full_name": fake.name(),
        "profession": "child_serving",
        "organization": f"{fake.city()} School District",
        "state_code": "ks",
        "registered_at": NOW - dt.timedelta(days=30),
    }
    fields.update(changes)
    return ProfessionalCreate(**fields)


def _register(store: Store, data: ProfessionalCreate) -> service.RegistrationResult:
    with store.unit_of_work() as session:
        return service.register(session=session, data=data)


def test_register_and_read(seeded: Store, fake: Faker) -> None:
    result = _register(seeded, _data(fake, email="  Dana.Reyes@Example.ORG "))
    assert result.duplicate is False
    professional = result.professional
    assert professional.email == "dana.reyes@example.org"
    assert professional.state_code == "KS"
    with seeded.unit_of_work() as session:
        stored = service.get(session=session, professional_id=professional.id)
        assert service.get_by_email(session=session, email="DANA.REYES@example.org").id == professional.id
        read = RegistrationRead(professional=ProfessionalRead.model_validate(stored), duplicate=False)
        assert read.professional.registered_at == NOW - dt.timedelta(days=30)
        with pytest.raises(NotFound):
            service.get_by_email(session=session, email="nobody@example.org")
        with pytest.raises(NotFound):
            service.get(session=session, professional_id=999)


def test_registered_at_defaults_to_now(seeded: Store, fake: Faker) -> None:
    professional = _register(seeded, _data(fake, registered_at=None)).professional
    assert abs(professional.registered_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)


def test_second_registration_of_an_address_is_a_duplicate(seeded: Store, fake: Faker, row_count: Any) -> None:
    first = _register(seeded, _data(fake, email="sam.lee@example.org"))
    audits = row_count(AuditEvent)
    again = _register(seeded, _data(fake, email="SAM.LEE@example.org", state_code="MO", profession="law_enforcement"))
    assert again.duplicate is True
    assert again.professional.id == first.professional.id
    assert again.professional.state_code == "KS"
    assert row_count(Professional) == 1
    assert row_count(AuditEvent) == audits


def test_list_professionals(seeded: Store, fake: Faker) -> None:
    kansas = _register(seeded, _data(fake)).professional
    missouri = _register(
        seeded, _data(fake, state_code="Missouri", profession=Profession.LAW_ENFORCEMENT, registered_at=NOW)
    ).professional
    with seeded.unit_of_work() as session:
        assert [p.id for p in service.list_professionals(session=session)] == [kansas.id, missouri.id]
        assert [p.id for p in service.list_professionals(session=session, state_code="MO")] == [missouri.id]
        assert [p.id for p in service.list_professionals(session=session, profession="child_serving")] == [kansas.id]
        this_week = service.list_professionals(session=session, registered_from=NOW - dt.timedelta(days=7))
        assert [p.id for p in this_week] == [missouri.id]
        with pytest.raises(InputError, match="profession: expected one of: law_enforcement, child_serving"):
            service.list_professionals(session=session, profession="nurse")


@pytest.mark.parametrize(
    ("changes", "field", "given"),
    [
        ({"state_code": "Wakanda"}, "state_code", "'Wakanda'"),
        ({"registered_at": NOW + dt.timedelta(days=1)}, "registered_at", "in the future"),
    ],
)
def test_register_validation_stores_nothing(
    seeded: Store, fake: Faker, row_count: Any, changes: dict[str, Any], field: str, given: str
) -> None:
    with pytest.raises(InputError) as caught:
        _register(seeded, _data(fake, **changes))
    assert caught.value.field == field
    assert given in str(caught.value)
    assert row_count(Professional) == 0
    assert row_count(AuditEvent) == 0


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        ({"email": "not-an-address"}, ["email", "expected an e-mail address", "'not-an-address'"]),
        ({"email": "a b@example.org"}, ["email", "'a b@example.org'"]),
        ({"profession": "nurse"}, ["profession", "'law_enforcement' or 'child_serving'", "nurse"]),
        ({"organization": ""}, ["organization", "at least 1 character"]),
        ({"registered_at": dt.datetime(2023, 1, 1)}, ["registered_at", "timezone"]),
        ({"password": "x"}, ["password", "Extra inputs are not permitted"]),
    ],
)
def test_schema_rejects_bad_input(fake: Faker, changes: dict[str, Any], fragments: list[str]) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        _data(fake, **changes)
    for fragment in fragments:
        assert fragment in str(caught.value)
