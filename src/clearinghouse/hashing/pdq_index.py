"""The perceptual index: every PDQ hash within the match distance of a query, exactly, at bank scale.

The index is a short list of immutable segments (see ``pdq_segment``) plus a small tail scanned in full.
Adds go to the tail; a full tail becomes a segment, and a segment is merged with the one before it once it
has grown to half that one's size, so segment sizes stay geometric (a log-structured merge): an added hash
is rebuilt a logarithmic number of times, never the whole bank per add. Removals mark the hash dead at once
(a tombstone); merges and :meth:`PdqIndex.compact` drop the dead.

All segments store codes under one bit permutation, learned from the first bank built (see
:func:`bit_order_for`): chunks get bits that are balanced and nearly independent of one another, which keeps
buckets even when bit frequencies are not, without any effect on distances or recall.
"""

from __future__ import annotations

import threading
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from clearinghouse.hashing.pdq_segment import (
    BITS,
    CODE_BYTES,
    FLAT_LIMIT,
    WORDS,
    Codes,
    Hits,
    Ids,
    Segment,
    from_stored,
    plan_for,
    to_stored,
)
from clearinghouse.hashing.settings import PDQ_MATCH_DISTANCE

TAIL_CAPACITY = FLAT_LIMIT
"""Adds kept unindexed (scanned in full) before they become a segment."""
MERGE_RATIO = 2
"""A segment is merged into the previous one once that one is at most this many times its size."""
QUERY_BATCH = 256
"""Queries handed to one thread at a time: large enough to amortise the call, small enough to share work."""
LAYOUT_SAMPLE = 200_000
"""Hashes sampled to measure bit frequencies when learning the bit permutation."""


class PdqMatches(NamedTuple):
    """Matches of a batch of queries: position of the query, id of the bank hash, Hamming distance.

    Ordered by query, then distance, then id.
    """

    queries: npt.NDArray[np.int64]
    ids: npt.NDArray[np.int64]
    distances: npt.NDArray[np.int64]


def bit_order_for(
    hashes: npt.NDArray[np.uint8], *, threshold: int = PDQ_MATCH_DISTANCE, sample: int = LAYOUT_SAMPLE
) -> npt.NDArray[np.int64]:
    """The stored bit permutation for a bank: hash bit ``order[i]`` becomes stored bit ``i``.

    Bits are dealt, most balanced first, into the chunks of the bank's plan, each to the chunk whose expected
    crowding (2 ** -entropy) it lowers most; a bit correlated with bits already in a chunk adds less entropy
    there (its mutual information with them is subtracted, estimated from the correlation). Chunks end up
    alike and made of nearly independent bits. Bits beyond the chunks (the least balanced) come last.
    """
    if len(hashes) < 2:
        return np.arange(BITS, dtype=np.int64)
    plan = plan_for(max(len(hashes), FLAT_LIMIT + 1), threshold)
    step = max(1, len(hashes) // sample)
    bits = np.unpackbits(np.asarray(hashes[::step][:sample]), axis=1).astype(np.float32)
    frequency = bits.mean(axis=0)
    entropy = -np.log2(frequency**2 + (1 - frequency) ** 2)
    bits -= frequency
    bits /= bits.std(axis=0) + 1e-6
    correlation = (bits.T @ bits) / len(bits)
    del bits
    shared = correlation**2 / (2 * np.log(2))  # mutual information of two weakly correlated bits, in bits
    np.fill_diagonal(shared, 0)
    ranked = np.argsort(-entropy, kind="stable")
    chunks: list[list[int]] = [[] for _ in range(plan.count)]
    crowding = np.zeros(plan.count)
    for bit in ranked[: plan.count * plan.width].tolist():
        best, best_gain, best_entropy = -1, -np.inf, 0.0
        for chunk, members in enumerate(chunks):
            if len(members) == plan.width:
                continue
            gained = crowding[chunk] + entropy[bit] - shared[bit, members].sum()
            gain = 2.0 ** -crowding[chunk] - 2.0**-gained
            if gain > best_gain:
                best, best_gain, best_entropy = chunk, gain, gained
        chunks[best].append(bit)
        crowding[best] = best_entropy
    order = [bit for members in chunks for bit in members] + ranked[plan.count * plan.width :].tolist()
    return np.array(order, dtype=np.int64)


def hashes_from_hex(values: list[str]) -> npt.NDArray[np.uint8]:
    """Hash bytes (n, 32) from 64-digit hex strings (already validated)."""
    if not values:
        return np.empty((0, CODE_BYTES), dtype=np.uint8)
    return np.frombuffer(bytes.fromhex("".join(values)), dtype=np.uint8).reshape(-1, CODE_BYTES)


def hashes_to_hex(hashes: npt.NDArray[np.uint8]) -> list[str]:
    """64-digit lower-case hex strings from hash bytes (n, 32)."""
    return [row.tobytes().hex() for row in np.asarray(hashes, dtype=np.uint8).reshape(-1, CODE_BYTES)]


@dataclass(frozen=True)
class _Tail:
    """The unindexed adds: buffers of fixed capacity, of which the first ``size`` rows are in use.

    Readers take the object and use rows below its ``size``; writers only write rows above it before
    publishing a new ``_Tail`` with the larger size, so a search never sees a half-written row.
    """

    codes: Codes
    ids: Ids
    alive: npt.NDArray[np.bool_]
    size: int

    @classmethod
    def empty(cls) -> _Tail:
        return cls(
            np.zeros((TAIL_CAPACITY, WORDS), dtype=np.uint64),
            np.zeros(TAIL_CAPACITY, dtype=np.int64),
            np.zeros(TAIL_CAPACITY, dtype=np.bool_),
            0,
        )

    def as_flat(self) -> Segment:
        """The rows in use as a flat segment (views, nothing copied)."""
        empty = np.empty(0, dtype=np.uint32)
        size = self.size
        return Segment(self.codes[:size], self.ids[:size], self.alive[:size], None, empty, empty, False)

    def as_segment(self, threshold: int) -> Segment:
        return Segment.build(
            self.codes[: self.size].copy(),
            self.ids[: self.size].copy(),
            threshold=threshold,
            alive=self.alive[: self.size].copy(),
        )


class PdqIndex:
    """PDQ hashes with integer ids, searched within a Hamming distance; safe to search from many threads."""

    def __init__(
        self,
        *,
        threshold: int = PDQ_MATCH_DISTANCE,
        bit_order: npt.NDArray[np.int64] | None = None,
        workers: int = 2,
    ) -> None:
        self.threshold = threshold
        self.bit_order = np.arange(BITS, dtype=np.int64) if bit_order is None else np.asarray(bit_order, np.int64)
        if sorted(self.bit_order.tolist()) != list(range(BITS)):
            raise ValueError("bit_order must be a permutation of 0..255")
        self.workers = max(1, workers)
        # Segments and tail are published together as one immutable pair, so that a search never sees an
        # add twice (in a sealed tail's new segment and in the old tail) or not at all.
        self._state: tuple[tuple[Segment, ...], _Tail] = ((), _Tail.empty())
        self._write_lock = threading.Lock()
        self._executor: Executor | None = None

    # -- building -------------------------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        hashes: npt.NDArray[np.uint8],
        ids: npt.ArrayLike,
        *,
        threshold: int = PDQ_MATCH_DISTANCE,
        learn_layout: bool = True,
        in_place: bool = False,
        workers: int = 2,
    ) -> PdqIndex:
        """An index over ``hashes`` (n, 32) with ``ids`` (n,), in one segment.

        With ``in_place`` the caller hands over ``hashes`` (a C-contiguous uint8 array) and ``ids``, whose memory
        becomes the index's, so that a large bank is never held twice.
        """
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) != len(hashes):
            raise ValueError(f"{len(hashes)} hashes but {len(ids)} ids")
        order = bit_order_for(hashes, threshold=threshold) if learn_layout else None
        index = cls(threshold=threshold, bit_order=order, workers=workers)
        if len(ids):
            codes = to_stored(hashes, index.bit_order, in_place=in_place)
            index._state = ((index._segment(codes, ids if in_place else ids.copy()),), _Tail.empty())
        return index

    def _segment(self, codes: Codes, ids: Ids, alive: npt.NDArray[np.bool_] | None = None) -> Segment:
        pool = self._pool()
        return Segment.build(codes, ids, threshold=self.threshold, alive=alive, map_chunks=pool.map if pool else map)

    def _pool(self) -> Executor | None:
        if self.workers == 1:
            return None
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="pdq-index")
        return self._executor

    def close(self) -> None:
        """Stop the worker threads (the index stays usable, single-threaded until used again)."""
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None

    # -- changes --------------------------------------------------------------------------------------------

    def add(self, hashes: npt.NDArray[np.uint8], ids: npt.ArrayLike) -> None:
        """Add hashes (n, 32) with their ids; they are found by the next search."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        codes = to_stored(np.asarray(hashes, dtype=np.uint8).reshape(-1, CODE_BYTES), self.bit_order)
        if len(ids) != len(codes):
            raise ValueError(f"{len(codes)} hashes but {len(ids)} ids")
        with self._write_lock:
            segments, tail = self._state
            if len(ids) >= TAIL_CAPACITY:  # a bulk add becomes a segment of its own straight away
                self._state = (self._pushed(segments, self._segment(codes, ids.copy())), tail)
                return
            if tail.size + len(ids) > TAIL_CAPACITY:
                segments = self._pushed(segments, tail.as_segment(self.threshold))
                tail = _Tail.empty()
            end = tail.size + len(ids)
            tail.codes[tail.size : end] = codes  # rows beyond the published size: invisible until published
            tail.ids[tail.size : end] = ids
            tail.alive[tail.size : end] = True
            self._state = (segments, _Tail(tail.codes, tail.ids, tail.alive, end))

    def _pushed(self, segments: tuple[Segment, ...], segment: Segment) -> tuple[Segment, ...]:
        """``segments`` and ``segment``, merging while the last is at least half the size of the one before."""
        merged = [*segments, segment]
        while len(merged) >= 2 and merged[-2].live_count <= MERGE_RATIO * merged[-1].live_count:
            newer = merged.pop()
            older = merged.pop()
            merged.append(self._merge([older, newer]))
        return tuple(merged)

    def _merge(self, parts: list[Segment]) -> Segment:
        codes = np.concatenate([part.codes[part.alive] for part in parts])
        ids = np.concatenate([part.ids[part.alive] for part in parts])
        return self._segment(codes, ids)

    def remove(self, ids: npt.ArrayLike) -> int:
        """Mark every entry with one of ``ids`` removed; returns how many were live. Takes effect at once."""
        wanted = np.unique(np.asarray(ids, dtype=np.int64).reshape(-1))
        removed = 0
        with self._write_lock:
            segments, tail = self._state
            for segment in segments:
                positions = segment.positions_of(wanted)
                removed += int(np.count_nonzero(segment.alive[positions]))
                segment.alive[positions] = False
            positions = np.flatnonzero(np.isin(tail.ids[: tail.size], wanted))
            removed += int(np.count_nonzero(tail.alive[positions]))
            tail.alive[positions] = False
        return removed

    def compact(self) -> None:
        """Merge everything into one segment, dropping removed entries (a full rebuild)."""
        with self._write_lock:
            segments, tail = self._state
            parts = [*segments]
            if tail.size:
                parts.append(tail.as_segment(self.threshold))
            self._state = ((self._merge(parts),) if parts else (), _Tail.empty())

    # -- searching ------------------------------------------------------------------------------------------

    def search(self, hashes: npt.NDArray[np.uint8], *, max_distance: int | None = None) -> PdqMatches:
        """Every live entry within ``max_distance`` (default: the index threshold) of each query (n, 32)."""
        limit = self.threshold if max_distance is None else max_distance
        if not 0 <= limit <= self.threshold:
            raise ValueError(f"max_distance must be between 0 and the index threshold {self.threshold}")
        queries = to_stored(np.asarray(hashes, dtype=np.uint8).reshape(-1, CODE_BYTES), self.bit_order)
        segments, tail = self._state
        batches = range(0, len(queries), QUERY_BATCH)
        pool = self._pool() if len(queries) > QUERY_BATCH else None

        def run(start: int) -> PdqMatches:
            return self._search_batch(segments, tail, queries[start : start + QUERY_BATCH], start, limit)

        parts = list(pool.map(run, batches) if pool else map(run, batches))
        if not parts:
            return PdqMatches(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64))
        queries_hit = np.concatenate([part.queries for part in parts])
        ids = np.concatenate([part.ids for part in parts])
        found = np.concatenate([part.distances for part in parts])
        order = np.lexsort((ids, found, queries_hit))
        return PdqMatches(queries_hit[order], ids[order], found[order])

    @staticmethod
    def _search_batch(segments: tuple[Segment, ...], tail: _Tail, queries: Codes, first: int, limit: int) -> PdqMatches:
        hits: list[Hits] = []
        for segment in segments:
            found = segment.search(queries, limit)
            hits.append(Hits(found.queries, segment.ids[found.slots], found.distances))
        if tail.size:
            found = tail.as_flat().search(queries, limit)
            hits.append(Hits(found.queries, tail.ids[found.slots], found.distances))
        merged = Hits.concat(hits)
        return PdqMatches(merged.queries + first, merged.slots, merged.distances)

    # -- inspection -----------------------------------------------------------------------------------------

    def __len__(self) -> int:
        segments, tail = self._state
        in_tail = int(np.count_nonzero(tail.alive[: tail.size]))
        return sum(segment.live_count for segment in segments) + in_tail

    @property
    def segments(self) -> list[Segment]:
        """The immutable segments, oldest (largest) first; the tail is not among them."""
        return list(self._state[0])

    def tail_entries(self) -> tuple[Codes, Ids, npt.NDArray[np.bool_]]:
        """Stored codes, ids and liveness of the unindexed adds."""
        tail = self._state[1]
        return tail.codes[: tail.size], tail.ids[: tail.size], tail.alive[: tail.size]

    def load_segments(self, segments: list[Segment]) -> None:
        """Replace the content with ready-made segments (used when a snapshot is read)."""
        with self._write_lock:
            self._state = (tuple(segments), _Tail.empty())

    def hashes_of(self, ids: npt.ArrayLike) -> dict[int, str]:
        """The hex hash of each live entry with one of ``ids`` (for inspection and tests)."""
        wanted = np.asarray(ids, dtype=np.int64).reshape(-1)
        found: dict[int, str] = {}
        codes, entry_ids, alive = self.tail_entries()
        sources = [(segment.codes, segment.ids, segment.alive) for segment in self._state[0]]
        for codes_part, ids_part, alive_part in [*sources, (codes, entry_ids, alive)]:
            positions = np.flatnonzero(np.isin(ids_part, wanted) & alive_part)
            values = hashes_to_hex(from_stored(codes_part[positions], self.bit_order))
            for entry, value in zip(ids_part[positions], values, strict=True):
                found[int(entry)] = value
        return found

    def stats(self) -> dict[str, Any]:
        """Sizes, chunk plans and memory of the segments and tail."""
        segments, tail = self._state
        return {
            "threshold": self.threshold,
            "live": len(self),
            "tail": tail.size,
            "segments": [
                {
                    "size": len(segment),
                    "live": segment.live_count,
                    "chunks": None if segment.plan is None else segment.plan.count,
                    "chunk_width": None if segment.plan is None else segment.plan.width,
                    "bytes": segment.nbytes,
                }
                for segment in segments
            ],
            "bytes": sum(segment.nbytes for segment in segments),
        }
