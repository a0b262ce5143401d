"""Bundling: a platform's viral batch and same-content reports are grouped and handled once through their
lead; urgent reports are never folded in; each member makes the lead available where the member is."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from clearinghouse.db.engine import Store
from clearinghouse.impact.metrics import tipline_reports_made_available
from clearinghouse.tipline import pipeline
from clearinghouse.tipline.bundle import SAME_CONTENT_WINDOW
from clearinghouse.tipline.models import Bundle, BundleKind, Classification
from clearinghouse.tipline.priority import Priority
from clearinghouse.tipline.queue import content_key
from tests.tipline.bulk_helpers import ENTICEMENT, T0, doc, image, line, ready, releases_of, report_by_ref, send

VIRAL = "VIRAL_POTENTIAL_MEME"


def _batched(state: str, *ids: str, **extra: Any) -> dict[str, Any]:
    return doc(state=state, batch={"reason": VIRAL, "grouped_report_ids": list(ids)}, **extra)


def _bundles(store: Store) -> list[tuple[BundleKind, int, int]]:
    with store.session() as session:
        rows = session.execute(sa.select(Bundle.kind, Bundle.lead_report_id, Bundle.report_count).order_by(Bundle.id))
        return [(kind, lead, count) for kind, lead, count in rows]


def _bundle_of(store: Store, platform: int, ref: str) -> int | None:
    return report_by_ref(store, platform, ref).bundle_id


def test_a_platform_batch_is_one_bundle_handled_through_its_lead(any_store: Store) -> None:
    platform = ready(any_store)
    lines = [
        line("lead", _batched("NC", "m1", "m2", "m3"), files=[image(1)]),
        line("m1", _batched("NC", "lead"), files=[image(1)]),
        line("m2", _batched("CA", "lead"), files=[image(2)]),  # another file of the same meme, elsewhere
    ]
    send(any_store, platform, lines)
    pipeline.run(any_store, clock=lambda received: received + dt.timedelta(minutes=30))
    lead = report_by_ref(any_store, platform, "lead")
    assert _bundles(any_store) == [(BundleKind.PLATFORM_BATCH, lead.id, 3)]
    assert {_bundle_of(any_store, platform, ref) for ref in ("lead", "m1", "m2")} == {lead.bundle_id}
    # The lead is released where it is located, and also where each member is; members are not released.
    assert releases_of(any_store, lead.id) == {"NC", "CA"}
    for ref in ("m1", "m2"):
        member = report_by_ref(any_store, platform, ref)
        assert releases_of(any_store, member.id) == set()
        assert (member.priority, member.classification) == (lead.priority, lead.classification)
    assert report_by_ref(any_store, platform, "m2").state_code == "CA"  # located on its own all the same
    with any_store.session() as session:
        assert tipline_reports_made_available(session, "NC", 2023) == 1
        assert tipline_reports_made_available(session, "CA", 2023) == 1


def test_a_member_named_by_the_batch_joins_when_it_arrives_later(store: Store) -> None:
    platform = ready(store)
    send(store, platform, [line("lead", _batched("NC", "late-1", "late-2"))])
    pipeline.run(store)
    later = T0 + dt.timedelta(days=30)  # named ids join whenever they come: no window for a platform's batch
    send(store, platform, [line("late-1", doc(state="NY"), at=later), line("late-2", _batched("NC"), at=later)])
    pipeline.run(store)
    lead = report_by_ref(store, platform, "lead")
    assert _bundle_of(store, platform, "late-1") == _bundle_of(store, platform, "late-2") == lead.bundle_id
    assert releases_of(store, lead.id) == {"NC", "NY"}
    assert _bundles(store)[0][2] == 3


def test_a_member_that_arrives_first_is_joined_by_the_report_naming_it(store: Store) -> None:
    platform = ready(store)
    send(store, platform, [line("early", _batched("NC", "other-early"))])
    pipeline.run(store)
    send(store, platform, [line("named-later", _batched("NC", "early"))])
    pipeline.run(store)
    assert _bundle_of(store, platform, "early") == _bundle_of(store, platform, "named-later") is not None


def test_the_same_files_within_the_window_are_one_bundle(any_store: Store) -> None:
    platform, other = ready(any_store), ready(any_store, "Other Photos")
    files = [image(7), image(8)]
    send(any_store, platform, [line("first", files=files)])
    pipeline.run(any_store)
    first = report_by_ref(any_store, platform, "first")
    assert first.bundle_id is None  # alone so far
    within = T0 + SAME_CONTENT_WINDOW - dt.timedelta(hours=1)
    outside = T0 + SAME_CONTENT_WINDOW + dt.timedelta(hours=1)
    send(
        any_store,
        platform,
        [
            line("same", doc(state="TX"), files=files[::-1], at=within),
            line("subset", files=files[:1], at=within),
            line("late", files=files, at=outside),
            line("urgent", doc(state="NC", annotations=["sextortion"]), files=files, at=within),
            line("contact", doc(incident_type=ENTICEMENT, state="NC"), files=files, at=within),
        ],
    )
    send(any_store, other, [line("other-platform", files=files, at=within)])
    pipeline.run(any_store)
    first = report_by_ref(any_store, platform, "first")
    assert _bundles(any_store) == [(BundleKind.SAME_CONTENT, first.id, 2)]
    assert _bundle_of(any_store, platform, "same") == first.bundle_id
    for ref in ("subset", "late", "urgent", "contact"):
        assert _bundle_of(any_store, platform, ref) is None, ref
    assert _bundle_of(any_store, other, "other-platform") is None
    assert releases_of(any_store, first.id) == {"NC", "TX"}
    assert releases_of(any_store, report_by_ref(any_store, platform, "urgent").id) == {"NC"}
    with any_store.session() as session:
        key = session.scalar(sa.select(Bundle.content_key))
    assert key == content_key(["0" * 31 + "7", "0" * 31 + "8"])


def test_a_later_wave_of_the_same_content_opens_a_bundle_of_its_own(any_store: Store) -> None:
    """An old bundle of the content is no reason to skip the look-up of a loose report near the new one; and of
    two loose reports sharing the first file, only the one within the window of the new report leads."""
    platform = ready(any_store)
    files = [image(3), image(4)]
    wave = T0 + 3 * SAME_CONTENT_WINDOW
    send(any_store, platform, [line("old-lead", files=files), line("old-member", files=files, at=T0)])
    pipeline.run(any_store)
    send(
        any_store,
        platform,
        [line("long-before", files=files, at=wave - 2 * SAME_CONTENT_WINDOW + dt.timedelta(days=1))],
    )
    pipeline.run(any_store)
    send(any_store, platform, [line("loose", files=files, at=wave)])
    pipeline.run(any_store)
    assert _bundle_of(any_store, platform, "loose") is None  # the old bundle is weeks away, the other report too
    send(any_store, platform, [line("new", files=files[::-1], at=wave + dt.timedelta(days=2))])
    pipeline.run(any_store)
    old, loose = report_by_ref(any_store, platform, "old-lead"), report_by_ref(any_store, platform, "loose")
    assert _bundles(any_store) == [(BundleKind.SAME_CONTENT, old.id, 2), (BundleKind.SAME_CONTENT, loose.id, 2)]
    assert _bundle_of(any_store, platform, "new") == loose.bundle_id != old.bundle_id
    assert _bundle_of(any_store, platform, "long-before") is None


def test_viral_content_seen_before_is_low_priority_and_informational(store: Store) -> None:
    platform = ready(store)
    send(store, platform, [line("original", files=[image(5)])])
    pipeline.run(store)
    send(store, platform, [line("meme", _batched("NC", "meme-2"), files=[image(5)])])
    pipeline.run(store)
    meme = report_by_ref(store, platform, "meme")
    assert (meme.priority, meme.classification) == (Priority.LOW, Classification.INFORMATIONAL)
    original = report_by_ref(store, platform, "original")
    assert (original.priority, original.classification) == (Priority.HIGH, Classification.REFERRAL)


def test_a_victim_in_a_batched_report_keeps_it_out_of_the_bundle(store: Store) -> None:
    platform = ready(store)
    child = [{"person": {"age": 12}}]
    send(store, platform, [line("a", _batched("NC", "b")), line("b", _batched("NC", "a", victims=child))])
    pipeline.run(store)
    assert _bundle_of(store, platform, "a") is not None
    assert _bundle_of(store, platform, "b") is None
    assert releases_of(store, report_by_ref(store, platform, "b").id) == {"NC"}
