"""The matcher over the store: exact and near matches across banks, allow-lists, removals, refresh, surges."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from clearinghouse.db.engine import Store
from clearinghouse.hashing import service
from clearinghouse.hashing.image import hash_content
from clearinghouse.hashing.matcher import Matcher
from clearinghouse.hashing.models import BankKind
from clearinghouse.hashing.pdq_index import hashes_from_hex
from clearinghouse.hashing.schemas import EntryIn, HashQuery
from clearinghouse.hashing.surge import SurgeMonitor
from tests.hashing.pictures import brightened, cropped, encode, flat, picture, recompressed, resized


def entry_for(content: bytes, **metadata: object) -> EntryIn:
    hashes = hash_content(content)
    values = {"md5": hashes.md5, "sha1": hashes.sha1, "sha256": hashes.sha256}
    if hashes.pdq is not None:
        values["pdq"] = hashes.pdq
    return EntryIn(hashes=values, pdq_quality=hashes.pdq_quality, **metadata)


def add(session: Session, bank: str, kind: BankKind, entries: list[EntryIn]) -> None:
    target = service.get_or_create_bank(session=session, name=bank, kind=kind)
    service.add_entries(session=session, bank=target, entries=entries)


@pytest.fixture
def banks(store: Store) -> Store:
    """Known pictures 0-5 in series 'Alpha' (0-2) and 'Beta' (3-5), picture 6 also on an allow-list."""
    with store.unit_of_work() as session:
        add(
            session,
            "Known",
            BankKind.KNOWN_ABUSE,
            [entry_for(encode(picture(seed)), series="Alpha") for seed in range(3)],
        )
        add(
            session,
            "Series",
            BankKind.IDENTIFIED_SERIES,
            [entry_for(encode(picture(seed)), series="Beta", victim_identified=True) for seed in (3, 4, 5, 6)],
        )
        add(session, "Benign", BankKind.ALLOW_LIST, [entry_for(encode(picture(6)))])
    return store


def lookup(store: Store, matcher: Matcher, contents: list[bytes]) -> list:  # type: ignore[type-arg]
    with store.unit_of_work() as session:
        return matcher.lookup_content(session=session, contents=contents)


def test_edited_copies_match_their_bank_entry_and_others_do_not(banks: Store) -> None:
    with banks.unit_of_work() as session:
        matcher = Matcher.from_store(session=session)
    originals = [picture(seed) for seed in range(6)]
    copies = [
        encode(resized(originals[0], 0.6)),
        encode(recompressed(originals[1]), "JPEG"),
        encode(cropped(originals[3], 0.01)),
        encode(brightened(originals[4], 1.2)),
    ]
    results = lookup(banks, matcher, [*copies, encode(picture(40)), encode(picture(41), "JPEG")])
    expected = [("Known", "Alpha"), ("Known", "Alpha"), ("Series", "Beta"), ("Series", "Beta")]
    for result, (bank, series) in zip(results, expected, strict=False):
        assert [(match.bank, match.series, match.hash_type) for match in result.matches] == [(bank, series, "pdq")]
        assert result.matches[0].distance <= 31  # different bytes: only PDQ can match
    assert results[4].matches == []
    assert results[5].matches == []
    matcher.close()


def test_an_identical_file_matches_on_every_hash(banks: Store) -> None:
    with banks.unit_of_work() as session:
        matcher = Matcher.from_store(session=session)
    [result] = lookup(banks, matcher, [encode(picture(3))])
    assert sorted(match.hash_type for match in result.matches) == ["md5", "pdq", "sha1", "sha256"]
    assert all(match.distance == 0 for match in result.matches)
    assert {match.victim_identified for match in result.matches} == {True}
    assert result.matches[0].bank_kind is BankKind.IDENTIFIED_SERIES


def test_allow_list_hits_suppress_the_other_matches(banks: Store) -> None:
    with banks.unit_of_work() as session:
        matcher = Matcher.from_store(session=session)
    [result] = lookup(banks, matcher, [encode(recompressed(picture(6)), "JPEG")])
    assert result.matches == []
    assert [match.bank for match in result.allow_listed] == ["Benign"]
    assert result.suppressed == 1
    assert not result.matched


def test_a_removed_hash_stops_matching_at_the_next_lookup_in_every_process(banks: Store) -> None:
    content = encode(picture(0))
    with banks.unit_of_work() as session:
        matcher = Matcher.from_store(session=session)
        other_process = Matcher.from_store(session=session)
    with banks.unit_of_work() as session:
        bank = service.get_bank(session=session, name="Known")
        pdq = hash_content(content).pdq
        assert pdq is not None
        removed = service.remove_hash(session=session, bank=bank, hash_type="pdq", value=pdq)
        service.remove_hash(session=session, bank=bank, hash_type="md5", value=hash_content(content).md5)
    assert matcher.forget(removed) == 1
    for current in (matcher, other_process):  # the other one still holds it in memory, yet it no longer matches
        [result] = lookup(banks, current, [content])
        assert sorted(match.hash_type for match in result.matches) == ["sha1", "sha256"]


def test_hashes_added_later_are_found_after_refresh(store: Store) -> None:
    with store.unit_of_work() as session:
        matcher = Matcher.from_store(session=session)
    assert len(matcher) == 0
    with store.unit_of_work() as session:
        add(session, "Late", BankKind.KNOWN_ABUSE, [entry_for(encode(picture(9)), series="Gamma")])
    [result] = lookup(store, matcher, [encode(resized(picture(9), 0.5))])
    assert [(match.bank, match.series) for match in result.matches] == [("Late", "Gamma")]
    with store.unit_of_work() as session:
        stale = matcher.lookup_many(
            session=session, queries=[HashQuery(md5=hash_content(encode(picture(9))).md5)], refresh=False
        )
    assert len(stale[0].matches) == 1


def test_low_quality_hashes_are_neither_indexed_nor_matched(store: Store) -> None:
    blank = encode(flat())
    with store.unit_of_work() as session:
        add(session, "Known", BankKind.KNOWN_ABUSE, [entry_for(blank)])
        matcher = Matcher.from_store(session=session)
    assert matcher.skipped_low_quality == 1
    [result] = lookup(store, matcher, [encode(flat((120, 130, 128)))])
    assert result.matches == []
    assert result.pdq_skipped is not None
    assert "below 50" in result.pdq_skipped
    [same] = lookup(store, matcher, [blank])
    assert {match.hash_type for match in same.matches} == {"md5", "sha1", "sha256"}


def test_an_all_zero_pdq_of_unknown_quality_is_neither_indexed_nor_matched(store: Store) -> None:
    # PDQ gives 256 zeros for a flat picture; without its quality, such a hash used to match every blank frame.
    zeros, nearly = "0" * 64, "0" * 62 + "0f"
    with store.unit_of_work() as session:
        add(session, "Known", BankKind.KNOWN_ABUSE, [EntryIn(hashes={"pdq": zeros}, series="Alpha")])
        matcher = Matcher.from_store(session=session)
        add(session, "Later", BankKind.KNOWN_ABUSE, [EntryIn(hashes={"pdq": zeros, "md5": "0" * 32})])
        results = matcher.lookup_many(session=session, queries=[HashQuery(pdq=zeros), HashQuery(pdq=nearly)])
    assert matcher.skipped_low_quality == 2  # the one read at the start and the one added since
    assert [result.matches for result in results] == [[], []]
    assert results[0].pdq_skipped is not None
    assert "all 256 bits are 0" in results[0].pdq_skipped
    assert results[1].pdq_skipped is None


def test_exact_candidates_are_confirmed_on_the_full_value(store: Store) -> None:
    stored = "0123456789abcdef" + "0" * 16
    lookalike = "0123456789abcdef" + "f" * 16  # same 64-bit prefix, another digest
    with store.unit_of_work() as session:
        add(session, "Known", BankKind.KNOWN_ABUSE, [EntryIn(hashes={"md5": stored})])
        matcher = Matcher.from_store(session=session)
        results = matcher.lookup_many(session=session, queries=[HashQuery(md5=lookalike), HashQuery(md5=stored)])
    assert results[0].matches == []
    assert [match.value for match in results[1].matches] == [stored]


def test_batch_lookups_keep_the_order_of_the_queries(banks: Store) -> None:
    digests = [hashlib.md5(encode(picture(seed))).hexdigest() for seed in (5, 40, 1)]
    with banks.unit_of_work() as session:
        matcher = Matcher.from_store(session=session)
        results = matcher.lookup_many(
            session=session, queries=[HashQuery(ref=str(n), md5=digest) for n, digest in enumerate(digests)]
        )
    assert [result.query.ref for result in results] == ["0", "1", "2"]
    assert [[match.series for match in result.matches] for result in results] == [["Beta"], [], ["Alpha"]]


def test_snapshot_then_refresh_gives_the_same_answers(banks: Store, tmp_path: Path) -> None:
    with banks.unit_of_work() as session:
        built = Matcher.from_store(session=session)
    built.save(tmp_path / "matcher")
    with banks.unit_of_work() as session:
        add(session, "Known", BankKind.KNOWN_ABUSE, [entry_for(encode(picture(12)), series="Delta")])
    loaded = Matcher.load(tmp_path / "matcher")
    assert loaded.high_water == built.high_water
    contents = [encode(resized(picture(seed), 0.7)) for seed in (0, 3, 12, 40)]
    answers = lookup(banks, loaded, contents)
    assert [[match.series for match in result.matches] for result in answers] == [["Alpha"], ["Beta"], ["Delta"], []]


def test_a_hash_matching_far_more_than_its_share_is_flagged(banks: Store) -> None:
    with banks.unit_of_work() as session:
        matcher = Matcher.from_store(session=session)
    matcher.surge = SurgeMonitor(window=100, min_matches=5, share=0.2)
    popular = hash_content(encode(picture(2))).md5
    quiet = hash_content(encode(picture(1))).md5
    queries = [HashQuery(md5=popular)] * 6 + [HashQuery(md5=quiet)] + [HashQuery(md5="0" * 32)] * 13
    with banks.unit_of_work() as session:
        results = matcher.lookup_many(session=session, queries=queries)
    assert results[5].matches[0].surge
    assert not results[6].matches[0].surge
    [flag] = matcher.surging()
    assert flag.hash_id == results[0].matches[0].hash_id
    assert (flag.matches, flag.lookups) == (6, 20)


def test_surge_window_forgets_old_lookups() -> None:
    monitor = SurgeMonitor(window=10, min_matches=3, share=0.25)
    monitor.record([{7}] * 4)
    assert monitor.is_surging(7)
    monitor.record([set()] * 10)
    assert not monitor.is_surging(7)
    assert monitor.surging() == []


def test_worker_processes_share_one_snapshot(banks: Store, tmp_path: Path) -> None:
    with banks.unit_of_work() as session:
        built = Matcher.from_store(session=session)
    built.save(tmp_path / "matcher")
    pdq = hash_content(encode(resized(picture(4), 0.5))).pdq
    worker = (
        "import sys\n"
        "from clearinghouse.hashing.matcher import Matcher\n"
        "from clearinghouse.hashing.pdq_index import hashes_from_hex\n"
        "matcher = Matcher.load(sys.argv[1])\n"
        "found = matcher.pdq.search(hashes_from_hex([sys.argv[2]]))\n"
        "print(found.ids.tolist(), matcher.pdq.segments[0].codes.flags.writeable)\n"
    )
    outputs = [
        subprocess.run(
            [sys.executable, "-c", worker, str(tmp_path / "matcher"), str(pdq)],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout.split()
        for _ in range(2)
    ]
    expected = built.pdq.search(hashes_from_hex([str(pdq)])).ids.tolist()
    assert len(expected) == 1
    assert outputs == [[str(expected), "False"]] * 2
