"""The perceptual index finds exactly what brute force finds, through adds, removals, merges and snapshots."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from clearinghouse.hashing import pdq_index as pdq_index_module
from clearinghouse.hashing import pdq_synthetic as synthetic
from clearinghouse.hashing import snapshot
from clearinghouse.hashing.exact_index import ExactIndex
from clearinghouse.hashing.pdq_index import PdqIndex, bit_order_for, hashes_from_hex, hashes_to_hex
from clearinghouse.hashing.pdq_segment import ChunkPlan, from_stored, plan_for, probe_masks, radii_for, to_stored

Triples = set[tuple[int, int, int]]


def brute_force(
    bank: npt.NDArray[np.uint8], ids: npt.NDArray[np.int64], queries: npt.NDArray[np.uint8], limit: int = 31
) -> Triples:
    """(query, id, distance) of every pair within ``limit``, by comparing everything with everything."""
    found: Triples = set()
    for position, query in enumerate(queries):
        distances = np.bitwise_count(bank ^ query).sum(axis=1)
        for index in np.flatnonzero(distances <= limit):
            found.add((position, int(ids[index]), int(distances[index])))
    return found


def as_triples(index: PdqIndex, queries: npt.NDArray[np.uint8], limit: int | None = None) -> Triples:
    matches = index.search(queries, max_distance=limit)
    return set(zip(matches.queries.tolist(), matches.ids.tolist(), matches.distances.tolist(), strict=True))


def random_hashes(count: int, seed: int) -> npt.NDArray[np.uint8]:
    return np.random.default_rng(seed).integers(0, 256, (count, 32), dtype=np.uint8)


@pytest.fixture(scope="module")
def structured() -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """A bank of 40,000 families of copies, and queries: held-out copies, unrelated hashes, and hashes at
    exactly 30, 31, 32 and 33 bits from bank hashes."""
    bank, _, roots = synthetic.bank_with_roots(40_000, seed=11, keep_roots=400)
    queries = np.concatenate(
        [
            synthetic.held_out_copies(roots, seed=12),
            synthetic.unrelated(200, seed=13),
            *(synthetic.flip_bits(bank[distance * 50 : distance * 50 + 50], distance) for distance in (30, 31, 32, 33)),
        ]
    )
    return bank, queries


def test_plans_satisfy_the_pigeonhole_condition() -> None:
    for size in (3_000, 50_000, 1_000_000, 10_000_000, 100_000_000):
        for threshold in (8, 16, 31, 40):
            plan = plan_for(size, threshold)
            assert sum(radius + 1 for radius in plan.radii) >= threshold + 1
            assert plan.count * plan.width <= 256
    assert radii_for(11, 31) == (2,) * 10 + (1,)
    assert radii_for(16, 31) == (1,) * 16


def test_probe_masks_cover_every_value_within_the_radius() -> None:
    masks, within = probe_masks(10, 2)
    assert len(set(masks.tolist())) == len(masks) == 1 + 10 + 45
    assert within.tolist() == [1, 11, 56]
    assert all(bin(mask).count("1") <= 2 for mask in masks.tolist())


def test_the_stored_layout_keeps_distances_and_round_trips() -> None:
    hashes = random_hashes(500, 1)
    order = np.random.default_rng(2).permutation(256).astype(np.int64)
    stored = to_stored(hashes, order)
    assert np.array_equal(from_stored(stored, order), hashes)
    plain = np.bitwise_count(hashes[:250] ^ hashes[250:]).sum(axis=1)
    permuted = np.bitwise_count(stored[:250] ^ stored[250:]).sum(axis=1)
    assert np.array_equal(plain, permuted)


def test_learned_layout_is_a_permutation() -> None:
    bank, _ = synthetic.bank(5_000, seed=3)
    order = bit_order_for(bank)
    assert sorted(order.tolist()) == list(range(256))


def test_recall_on_random_hashes_with_planted_neighbours() -> None:
    bank = random_hashes(30_000, 4)
    ids = np.arange(len(bank), dtype=np.int64) * 7 + 100
    queries = np.concatenate(
        [synthetic.flip_bits(bank[:300], distance, seed=distance) for distance in (0, 5, 17, 29, 30, 31, 32, 40)]
        + [random_hashes(300, 5)]
    )
    index = PdqIndex.build(bank, ids)
    expected = brute_force(bank, ids, queries)
    assert as_triples(index, queries) == expected
    found_at = {distance for _, _, distance in expected}
    assert 31 in found_at
    assert 32 not in found_at


def test_recall_on_structured_hashes_including_the_threshold_edges(
    structured: tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]],
) -> None:
    bank, queries = structured
    ids = np.arange(len(bank), dtype=np.int64)
    index = PdqIndex.build(bank, ids)
    expected = brute_force(bank, ids, queries)
    assert as_triples(index, queries) == expected
    edges = queries[-200:]
    edge_expected = brute_force(bank, ids, edges)
    assert any(distance == 31 for _, _, distance in edge_expected)
    assert as_triples(index, edges) == edge_expected


def test_smaller_distances_can_be_asked(structured: tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]) -> None:
    bank, queries = structured
    ids = np.arange(len(bank), dtype=np.int64)
    index = PdqIndex.build(bank, ids)
    assert as_triples(index, queries, 12) == brute_force(bank, ids, queries, 12)
    with pytest.raises(ValueError, match="between 0 and the index threshold"):
        index.search(queries, max_distance=40)


def test_incremental_adds_and_removals_match_brute_force(
    structured: tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]],
) -> None:
    bank, queries = structured
    ids = np.arange(len(bank), dtype=np.int64) + 1
    index = PdqIndex.build(bank[:10_000], ids[:10_000])
    for start in range(10_000, 30_000, 997):  # batches that fill and seal the tail at odd places
        stop = min(start + 997, 30_000)
        index.add(bank[start:stop], ids[start:stop])
    for row in range(30_000, 30_500):  # single adds
        index.add(bank[row], [ids[row]])
    index.add(bank[30_500:], ids[30_500:])  # a bulk add becomes a segment at once
    assert len(index) == len(bank)
    removed = ids[::5]
    assert index.remove(removed) == len(removed)
    assert index.remove(removed) == 0  # already gone
    keep = np.ones(len(bank), dtype=bool)
    keep[::5] = False
    expected = brute_force(bank[keep], ids[keep], queries)
    assert as_triples(index, queries) == expected
    index.compact()
    assert len(index.segments) == 1
    assert len(index) == int(keep.sum())
    assert as_triples(index, queries) == expected


def test_a_removal_takes_effect_on_the_next_search() -> None:
    bank = random_hashes(5_000, 6)
    index = PdqIndex.build(bank, np.arange(5_000))
    index.add(bank[:1], [99_999])  # the same hash again under another id, in the tail
    assert set(index.search(bank[:1]).ids.tolist()) == {0, 99_999}
    index.remove([0, 99_999])
    assert len(index.search(bank[:1]).ids) == 0


def test_merges_keep_segment_sizes_geometric(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdq_index_module, "TAIL_CAPACITY", 64)
    index = PdqIndex(workers=1)
    bank = random_hashes(5_000, 7)
    for row in range(len(bank)):
        index.add(bank[row], [row])
    sizes = [len(segment) for segment in index.segments]
    assert sizes == sorted(sizes, reverse=True)
    assert all(older > 2 * newer for older, newer in itertools.pairwise(sizes))
    assert len(index) == 5_000
    queries = synthetic.flip_bits(bank[:100], 20)
    assert as_triples(index, queries) == brute_force(bank, np.arange(5_000), queries)


def test_many_threads_and_one_thread_agree(structured: tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]) -> None:
    bank, queries = structured
    one = PdqIndex.build(bank, np.arange(len(bank)), workers=1)
    two = PdqIndex.build(bank, np.arange(len(bank)), workers=2)
    first, second = one.search(queries), two.search(queries)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    two.close()


def test_hex_conversions_and_stored_hashes() -> None:
    values = hashes_to_hex(random_hashes(3, 8))
    assert hashes_to_hex(hashes_from_hex(values)) == values
    index = PdqIndex.build(hashes_from_hex(values), [5, 6, 7])
    assert index.hashes_of([6, 8]) == {6: values[1]}


def test_snapshot_round_trip_mapped_and_shared(
    tmp_path: Path, structured: tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]
) -> None:
    bank, queries = structured
    ids = np.arange(len(bank), dtype=np.int64)
    index = PdqIndex.build(bank[:35_000], ids[:35_000])
    index.add(bank[35_000:35_100], ids[35_000:35_100])  # in the tail: saved too
    index.remove(ids[:10])
    exact = ExactIndex.build(np.arange(10, dtype=np.uint64), np.arange(10) + 500)
    target = tmp_path / "snap"
    snapshot.save(target, snapshot.Snapshot(pdq=index, exact={"md5": exact}, metadata={"high_water": 42}))
    snapshot.save(target, snapshot.Snapshot(pdq=index, exact={"md5": exact}, metadata={"high_water": 43}))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["snap"]  # replaced in place, nothing left over
    loaded = snapshot.load(target)
    assert loaded.metadata == {"high_water": 43}
    assert not loaded.pdq.segments[0].codes.flags.writeable  # mapped read-only, shared between processes
    assert as_triples(loaded.pdq, queries) == as_triples(index, queries)
    loaded.pdq.remove(ids[10:20])  # each process keeps its own removals
    loaded.pdq.add(bank[35_100:], ids[35_100:])
    assert len(loaded.pdq) == len(bank) - 20
    assert loaded.exact["md5"].lookup(np.array([3], dtype=np.uint64)).ids.tolist() == [503]
    in_memory = snapshot.load(target, mmap=False)
    assert in_memory.pdq.segments[0].codes.flags.writeable


def test_a_damaged_snapshot_is_refused_with_the_file_named(tmp_path: Path) -> None:
    index = PdqIndex.build(random_hashes(3_000, 9), np.arange(3_000))
    target = tmp_path / "snap"
    snapshot.save(target, snapshot.Snapshot(pdq=index, exact={}))
    ids_file = target / "pdq" / "segment-000.ids.npy"
    np.save(ids_file, np.arange(10, dtype=np.int64), allow_pickle=False)
    with pytest.raises(snapshot.SnapshotError, match=r"segment-000\.ids\.npy: expected <i8 \(3000,\)"):
        snapshot.load(target)
    np.save(ids_file, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(snapshot.SnapshotError, match="cannot read"):
        snapshot.load(target)
    (target / "header.json").write_text('{"format": "something else"}', encoding="utf-8")
    with pytest.raises(snapshot.SnapshotError, match="format is 'something else'"):
        snapshot.load(target)


def test_chunk_plan_is_recorded_with_radii_for_crowded_chunks_smaller() -> None:
    bank, _ = synthetic.bank(60_000, seed=10)
    index = PdqIndex.build(bank, np.arange(len(bank)))
    plan = index.segments[0].plan
    assert isinstance(plan, ChunkPlan)
    assert sorted(plan.radii, reverse=True) == list(radii_for(plan.count, 31))
