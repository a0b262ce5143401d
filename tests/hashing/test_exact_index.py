"""The exact index finds every entry with a query's prefix, through adds, removals and merges."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from clearinghouse.hashing import exact_index as exact_module
from clearinghouse.hashing.exact_index import ExactIndex, prefixes_from_digests, prefixes_from_hex


def keys(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**64, count, dtype=np.uint64, endpoint=False)


def pairs(index: ExactIndex, queries: np.ndarray) -> set[tuple[int, int]]:
    found = index.lookup(queries)
    return set(zip(found.queries.tolist(), found.ids.tolist(), strict=True))


def test_prefixes_of_hex_and_raw_digests_agree() -> None:
    digests = [hashlib.sha256(str(n).encode()).digest() for n in range(5)]
    from_hex = prefixes_from_hex([digest.hex() for digest in digests])
    from_raw = prefixes_from_digests(np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(5, 32))
    assert np.array_equal(from_hex, from_raw)
    assert int(from_hex[0]) == int.from_bytes(digests[0][:8], "big")


def test_lookups_find_every_equal_key_and_nothing_else() -> None:
    bank = keys(50_000, 1)
    bank[10] = bank[20]  # the same value in two banks
    index = ExactIndex.build(bank, np.arange(len(bank)) + 1000)
    queries = np.concatenate([bank[[20, 5, 49_999]], keys(1000, 2)])
    assert pairs(index, queries) == {(0, 1010), (0, 1020), (1, 1005), (2, 50_999)}
    assert len(index) == 50_000


def test_adds_removals_and_compaction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exact_module, "RECENT_CAPACITY", 100)
    bank = keys(3_000, 3)
    index = ExactIndex.build(bank[:1_000], np.arange(1_000))
    for position in range(1_000, 3_000):
        index.add([bank[position]], [position])
    assert len(index.runs) > 1
    assert len(index) == 3_000
    every = pairs(index, bank)
    assert every == {(position, position) for position in range(3_000)}
    removed = np.arange(0, 3_000, 7)
    assert index.remove(bank[removed], removed) == len(removed)
    assert index.remove(bank[removed], removed) == 0
    assert index.remove(bank[:1], [12345]) == 0  # right key, wrong id: nothing removed
    remaining = {(position, position) for position in range(3_000) if position % 7}
    assert pairs(index, bank) == remaining
    index.compact()
    assert len(index.runs) == 1
    assert pairs(index, bank) == remaining


def test_recent_adds_are_found_before_they_form_a_run() -> None:
    index = ExactIndex.build(keys(100, 4), np.arange(100))
    extra = keys(3, 5)
    index.add(extra, [900, 901, 902])
    index.add(extra[:1], [903])
    assert pairs(index, extra) == {(0, 900), (0, 903), (1, 901), (2, 902)}
    index.remove(extra[:1], [900])
    assert pairs(index, extra[:1]) == {(0, 903)}


def test_an_empty_index_finds_nothing() -> None:
    index = ExactIndex()
    assert len(index.lookup(keys(10, 6)).ids) == 0
