"""Family support: recipients, peer-support contacts, referrals and their outcomes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pydantic
import pytest
from faker import Faker

from clearinghouse.access.models import AuditEvent
from clearinghouse.db.engine import Store
from clearinghouse.errors import Conflict, InputError, NotFound
from clearinghouse.support import service
from clearinghouse.support.models import (
    ContactChannel,
    MentalHealthReferral,
    PeerSupportContact,
    Recipient,
    RecipientKind,
    ReferralStatus,
)
from clearinghouse.support.schemas import (
    PeerContactCreate,
    PeerContactRead,
    RecipientCreate,
    RecipientRead,
    ReferralCreate,
    ReferralRead,
)

NOW = dt.datetime.now(dt.UTC)


def _recipient(store: Store, fake: Faker, **changes: Any) -> Recipient:
    fields: dict[str, Any] = {"kind": "family", "display_name": f"The {fake.last_name()} family", "state_code": "ga"}
    fields.update(changes)
    with store.unit_of_work() as session:
        return service.register_recipient(session=session, data=RecipientCreate(**fields), actor="advocate")


def _contact(store: Store, fake: Faker, recipient_id: int, **changes: Any) -> PeerSupportContact:
    fields: dict[str, Any] = {
        "recipient_id": recipient_id,
        "volunteer_name": fake.name(),
        "channel": ContactChannel.PHONE,
        "contact_at": NOW - dt.timedelta(days=3),
        "minutes": 45,
    }
    fields.update(changes)
    with store.unit_of_work() as session:
        return service.record_peer_contact(session=session, data=PeerContactCreate(**fields))


def _referral(store: Store, recipient_id: int, **changes: Any) -> MentalHealthReferral:
    fields: dict[str, Any] = {
        "recipient_id": recipient_id,
        "provider_name": "Regional Trauma Counselling",
        "referred_at": NOW - dt.timedelta(days=10),
    }
    fields.update(changes)
    with store.unit_of_work() as session:
        return service.refer(session=session, data=ReferralCreate(**fields))


def test_register_and_read_recipients(seeded: Store, fake: Faker) -> None:
    family = _recipient(seeded, fake)
    survivor = _recipient(seeded, fake, kind="survivor", display_name=fake.name(), state_code="Oregon")
    with seeded.unit_of_work() as session:
        stored = service.get_recipient(session=session, recipient_id=family.id)
        assert RecipientRead.model_validate(stored).state_code == "GA"
        assert [r.id for r in service.list_recipients(session=session)] == [family.id, survivor.id]
        assert [r.id for r in service.list_recipients(session=session, state_code="OR")] == [survivor.id]
        assert [r.id for r in service.list_recipients(session=session, kind=RecipientKind.FAMILY)] == [family.id]
        with pytest.raises(NotFound):
            service.get_recipient(session=session, recipient_id=999)


def test_peer_contacts_are_recorded_and_listed(seeded: Store, fake: Faker) -> None:
    georgia = _recipient(seeded, fake)
    maine = _recipient(seeded, fake, state_code="ME")
    first = _contact(seeded, fake, georgia.id, contact_at=NOW - dt.timedelta(days=5))
    second = _contact(seeded, fake, georgia.id, channel="video")
    other = _contact(seeded, fake, maine.id)
    with seeded.unit_of_work() as session:
        read = PeerContactRead.model_validate(service.get_peer_contact(session=session, contact_id=first.id))
        assert read.minutes == 45
        assert [c.id for c in service.list_peer_contacts(session=session, recipient_id=georgia.id)] == [
            first.id,
            second.id,
        ]
        assert [c.id for c in service.list_peer_contacts(session=session, state_code="maine")] == [other.id]
        recent = service.list_peer_contacts(session=session, contact_from=NOW - dt.timedelta(days=4))
        assert {c.id for c in recent} == {second.id, other.id}


def test_referral_connected(seeded: Store, fake: Faker) -> None:
    referral = _referral(seeded, _recipient(seeded, fake).id)
    assert referral.status is ReferralStatus.REFERRED
    connected_at = NOW - dt.timedelta(days=2)
    with seeded.unit_of_work() as session:
        service.mark_connected(session=session, referral_id=referral.id, at=connected_at, actor="advocate")
    with seeded.unit_of_work() as session:
        read = ReferralRead.model_validate(service.get_referral(session=session, referral_id=referral.id))
        assert read.status is ReferralStatus.CONNECTED
        assert read.connected_at == connected_at
        listed = service.list_referrals(session=session, status="connected", state_code="GA")
        assert [r.id for r in listed] == [referral.id]
        in_window = service.list_referrals(
            session=session, connected_from=connected_at, connected_to=connected_at + dt.timedelta(seconds=1)
        )
        assert [r.id for r in in_window] == [referral.id]
        with pytest.raises(Conflict, match="already connected"):
            service.mark_connected(session=session, referral_id=referral.id, at=NOW, actor="advocate")
        with pytest.raises(Conflict):
            service.withdraw(session=session, referral_id=referral.id, at=NOW, actor="advocate")


@pytest.mark.parametrize("outcome", ["decline", "withdraw"])
def test_connecting_a_declined_or_withdrawn_referral_is_a_conflict(seeded: Store, fake: Faker, outcome: str) -> None:
    referral = _referral(seeded, _recipient(seeded, fake).id)
    with seeded.unit_of_work() as session:
        getattr(service, outcome)(session=session, referral_id=referral.id, at=NOW, actor="a", reason="moved away")
    with seeded.unit_of_work() as session:
        stored = service.get_referral(session=session, referral_id=referral.id)
        assert stored.status in {ReferralStatus.DECLINED, ReferralStatus.WITHDRAWN}
        assert stored.connected_at is None
        with pytest.raises(Conflict, match="only a referred one can become connected"):
            service.mark_connected(session=session, referral_id=referral.id, at=NOW, actor="advocate")


def test_connecting_before_the_referral_is_refused(seeded: Store, fake: Faker) -> None:
    referral = _referral(seeded, _recipient(seeded, fake).id)
    with seeded.unit_of_work() as session, pytest.raises(InputError) as caught:
        service.mark_connected(
            session=session, referral_id=referral.id, at=NOW - dt.timedelta(days=11), actor="advocate"
        )
    assert caught.value.field == "at"
    assert "comes before referred_at" in str(caught.value)


def test_connecting_in_the_future_is_refused(seeded: Store, fake: Faker) -> None:
    referral = _referral(seeded, _recipient(seeded, fake).id)
    with seeded.unit_of_work() as session, pytest.raises(InputError, match="at: is in the future"):
        service.mark_connected(session=session, referral_id=referral.id, at=NOW + dt.timedelta(days=1), actor="a")


def test_unknown_referral_is_not_found(seeded: Store) -> None:
    with seeded.unit_of_work() as session, pytest.raises(NotFound):
        service.mark_connected(session=session, referral_id=321, at=NOW, actor="a")


@pytest.mark.parametrize(
    ("changes", "field", "given"),
    [
        ({"state_code": "Narnia"}, "state_code", "'Narnia'"),
        ({"missing_case_id": 4040}, "missing_case_id", "4040"),
    ],
)
def test_register_recipient_validation_stores_nothing(
    seeded: Store, fake: Faker, row_count: Any, changes: dict[str, Any], field: str, given: str
) -> None:
    with pytest.raises(InputError) as caught:
        _recipient(seeded, fake, **changes)
    assert caught.value.field == field
    assert given in str(caught.value)
    assert row_count(Recipient) == 0
    assert row_count(AuditEvent) == 0


def test_contact_and_referral_validation_store_nothing(seeded: Store, fake: Faker, row_count: Any) -> None:
    recipient = _recipient(seeded, fake)
    audits = row_count(AuditEvent)
    future = NOW + dt.timedelta(days=1)
    with pytest.raises(InputError) as caught:
        _contact(seeded, fake, recipient.id, contact_at=future)
    assert caught.value.field == "contact_at"
    assert future.isoformat() in str(caught.value)
    with pytest.raises(InputError, match="recipient_id: no survivor or family has this id"):
        _contact(seeded, fake, 999)
    with pytest.raises(InputError) as caught:
        _referral(seeded, recipient.id, referred_at=future)
    assert caught.value.field == "referred_at"
    with pytest.raises(InputError, match=r"\(given: 888\)"):
        _referral(seeded, 888)
    assert (row_count(PeerSupportContact), row_count(MentalHealthReferral)) == (0, 0)
    assert row_count(AuditEvent) == audits


@pytest.mark.parametrize(
    ("model", "fields", "fragments"),
    [
        (RecipientCreate, {"kind": "friend", "display_name": "X", "state_code": "GA"}, ["kind", "'survivor'"]),
        (RecipientCreate, {"kind": "family", "display_name": " ", "state_code": "GA"}, ["display_name"]),
        (
            PeerContactCreate,
            {"recipient_id": 1, "volunteer_name": "V", "channel": "fax", "contact_at": NOW},
            ["channel", "'phone', 'video', 'in_person' or 'message'", "fax"],
        ),
        (
            PeerContactCreate,
            {"recipient_id": 1, "volunteer_name": "V", "channel": "phone", "contact_at": NOW, "minutes": -5},
            ["minutes", "greater than or equal to 0", "-5"],
        ),
        (
            ReferralCreate,
            {"recipient_id": 1, "provider_name": "P", "referred_at": dt.datetime(2023, 3, 1)},
            ["referred_at", "timezone"],
        ),
    ],
)
def test_schemas_reject_bad_input(
    model: type[pydantic.BaseModel], fields: dict[str, Any], fragments: list[str]
) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        model(**fields)
    for fragment in fragments:
        assert fragment in str(caught.value)
