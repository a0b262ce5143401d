"""Rapid response: the roster, activations on missing-child cases, deployments and their validation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pydantic
import pytest
from faker import Faker

from clearinghouse.access.models import AuditEvent
from clearinghouse.db.engine import Store
from clearinghouse.errors import Conflict, InputError, NotFound
from clearinghouse.geo.models import AgencyKind
from clearinghouse.missing import service as missing_service
from clearinghouse.missing.models import MissingCase
from clearinghouse.response import service
from clearinghouse.response.models import (
    Activation,
    ActivationKind,
    ActivationResponder,
    ActivationStatus,
    Responder,
)
from clearinghouse.response.schemas import ActivationCreate, ActivationRead, ResponderCreate, ResponderRead

NOW = dt.datetime.now(dt.UTC)
OpenCase = Callable[..., MissingCase]
AgencyId = Callable[[str, AgencyKind], int]


def _responder(store: Store, fake: Faker, **changes: Any) -> Responder:
    fields: dict[str, Any] = {
        "full_name": fake.name(),
        "home_state": "Florida",
        "former_service": "State Bureau of Investigation",
    }
    fields.update(changes)
    with store.unit_of_work() as session:
        return service.add_responder(session=session, data=ResponderCreate(**fields))


def _activate(store: Store, case_id: int, **changes: Any) -> Activation:
    fields: dict[str, Any] = {
        "missing_case_id": case_id,
        "kind": ActivationKind.CRITICAL,
        "activated_at": NOW - dt.timedelta(days=3),
    }
    fields.update(changes)
    with store.unit_of_work() as session:
        return service.activate(session=session, data=ActivationCreate(**fields), actor="coordinator")


def test_roster(seeded: Store, fake: Faker) -> None:
    florida = _responder(seeded, fake, full_name="Avery Stone")
    utah = _responder(seeded, fake, full_name="Blair Moss", home_state="ut")
    with seeded.unit_of_work() as session:
        read = ResponderRead.model_validate(service.get_responder(session=session, responder_id=florida.id))
        assert (read.home_state, read.active) == ("FL", True)
        assert [r.id for r in service.list_responders(session=session)] == [florida.id, utah.id]
        assert [r.id for r in service.list_responders(session=session, home_state="Utah")] == [utah.id]
        assert service.list_responders(session=session, active=False) == []
        with pytest.raises(NotFound):
            service.get_responder(session=session, responder_id=404)
    with pytest.raises(InputError) as caught:
        _responder(seeded, fake, home_state="Mordor")
    assert caught.value.field == "home_state"
    assert "'Mordor'" in str(caught.value)


def test_activation_takes_the_case_state_and_deploys_responders(
    seeded: Store, fake: Faker, missing_case: OpenCase, agency_id: AgencyId
) -> None:
    case = missing_case()
    first, second = _responder(seeded, fake), _responder(seeded, fake)
    activation = _activate(
        seeded,
        case.id,
        requesting_agency_id=agency_id("AZ", AgencyKind.STATE_LAW_ENFORCEMENT),
        responder_ids=[first.id, first.id],
    )
    assert activation.state_code == "AZ"
    assert activation.status is ActivationStatus.ACTIVE
    with seeded.unit_of_work() as session:
        service.assign_responder(session=session, activation_id=activation.id, responder_id=second.id, actor="c")
        service.assign_responder(session=session, activation_id=activation.id, responder_id=second.id, actor="c")
    with seeded.unit_of_work() as session:
        deployed = service.responders_of(session=session, activation_id=activation.id)
        assert {r.id for r in deployed} == {first.id, second.id}
        read = ActivationRead.model_validate(service.get_activation(session=session, activation_id=activation.id))
        assert read.kind is ActivationKind.CRITICAL
        assert [a.id for a in service.list_activations(session=session, state_code="arizona")] == [activation.id]
        assert service.list_activations(session=session, state_code="NM") == []
        assert [a.id for a in service.list_activations(session=session, missing_case_id=case.id)] == [activation.id]


def test_close_and_cancel(seeded: Store, missing_case: OpenCase) -> None:
    case = missing_case()
    critical = _activate(seeded, case.id)
    long_term = _activate(seeded, case.id, kind="long_term")
    with seeded.unit_of_work() as session:
        closed = service.close_activation(session=session, activation_id=critical.id, at=NOW, actor="coordinator")
        assert (closed.status, closed.closed_at) == (ActivationStatus.CLOSED, NOW)
        cancelled = service.cancel_activation(
            session=session, activation_id=long_term.id, at=NOW, actor="coordinator", reason="agency withdrew"
        )
        assert cancelled.status is ActivationStatus.CANCELLED
    with seeded.unit_of_work() as session:
        assert [a.id for a in service.list_activations(session=session, status="cancelled")] == [long_term.id]
        assert [a.id for a in service.list_activations(session=session, kind="critical")] == [critical.id]
        with pytest.raises(Conflict, match="already closed"):
            service.cancel_activation(session=session, activation_id=critical.id, at=NOW, actor="c")
        with pytest.raises(Conflict, match="already cancelled"):
            service.assign_responder(session=session, activation_id=long_term.id, responder_id=1, actor="c")


def test_second_active_activation_of_a_kind_is_a_conflict(seeded: Store, missing_case: OpenCase) -> None:
    case = missing_case()
    _activate(seeded, case.id)
    with pytest.raises(Conflict, match="already has active critical activation"):
        _activate(seeded, case.id)


def test_activation_after_resolution_is_a_conflict(seeded: Store, missing_case: OpenCase) -> None:
    case = missing_case()
    with seeded.unit_of_work() as session:
        missing_service.resolve(
            session=session, case_id=case.id, at=NOW - dt.timedelta(days=2), resolution="recovered", actor="a"
        )
    with pytest.raises(Conflict, match="was resolved"):
        _activate(seeded, case.id, activated_at=NOW - dt.timedelta(days=1))
    # Recorded afterwards, but the team was deployed while the child was still missing.
    assert _activate(seeded, case.id, activated_at=NOW - dt.timedelta(days=3)).id > 0


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"missing_case_id": 9090}, "missing_case_id", "9090"),
        ({"activated_at": NOW + dt.timedelta(days=1)}, "activated_at", "is in the future"),
        ({"activated_at": NOW - dt.timedelta(days=5)}, "activated_at", "comes before the case's missing_since"),
        ({"requesting_agency_id": 123456}, "requesting_agency_id", "123456"),
        ("social", "requesting_agency_id", "expected a law-enforcement agency"),
        ({"responder_ids": [777]}, "responder_id", "777"),
    ],
)
def test_activate_validation_stores_nothing(
    seeded: Store,
    missing_case: OpenCase,
    agency_id: AgencyId,
    row_count: Any,
    changes: Any,
    field: str,
    fragment: str,
) -> None:
    case = missing_case()
    if changes == "social":
        changes = {"requesting_agency_id": agency_id("AZ", AgencyKind.SOCIAL_SERVICES)}
    audits = row_count(AuditEvent)
    with pytest.raises(InputError) as caught:
        _activate(seeded, case.id, **changes)
    assert caught.value.field == field
    assert fragment in str(caught.value)
    assert (row_count(Activation), row_count(ActivationResponder), row_count(AuditEvent)) == (0, 0, audits)


def test_inactive_responder_is_not_deployed(seeded: Store, fake: Faker, missing_case: OpenCase) -> None:
    retired = _responder(seeded, fake)
    with seeded.unit_of_work() as session:
        service.get_responder(session=session, responder_id=retired.id).active = False
    with pytest.raises(InputError, match="no longer active"):
        _activate(seeded, missing_case().id, responder_ids=[retired.id])


def test_closing_before_activation_is_refused(seeded: Store, missing_case: OpenCase) -> None:
    activation = _activate(seeded, missing_case().id)
    with seeded.unit_of_work() as session, pytest.raises(InputError) as caught:
        service.close_activation(session=session, activation_id=activation.id, at=NOW - dt.timedelta(days=4), actor="c")
    assert caught.value.field == "at"


@pytest.mark.parametrize(
    ("fields", "fragments"),
    [
        ({"missing_case_id": 1, "kind": "urgent", "activated_at": NOW}, ["kind", "'critical' or 'long_term'"]),
        ({"missing_case_id": 0, "kind": "critical", "activated_at": NOW}, ["missing_case_id", "greater than 0"]),
        ({"missing_case_id": 1, "kind": "critical", "activated_at": dt.datetime(2023, 1, 1)}, ["timezone"]),
    ],
)
def test_activation_schema_rejects_bad_input(fields: dict[str, Any], fragments: list[str]) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        ActivationCreate(**fields)
    for fragment in fragments:
        assert fragment in str(caught.value)
