"""One immutable part of the perceptual index: PDQ codes found by multi-index hashing, or by a flat scan.

Multi-index hashing cuts the stored bits into ``m`` chunks and probes, in chunk ``c``, every value within
``r_c`` bits of the query's. If a code is within distance ``t`` of the query and differs in at least
``r_c + 1`` bits of every chunk, then ``t >= sum(r_c + 1)``; so choosing radii with ``sum(r_c + 1) = t + 1``
(the generalised pigeonhole principle) finds every match: recall is exact by construction, whatever the data.
Each chunk has a table of slots sorted by chunk value with a directly addressed offsets array (CSR), so a
probe is two array reads; candidates are verified on all 256 bits by the compiled kernels.

Codes are stored as four native uint64 words after a bit permutation (chosen by ``pdq_index``), which leaves
Hamming distances unchanged and lets each chunk be a contiguous run of stored bits.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from clearinghouse.hashing import kernels

BITS = 256
WORDS = 4
CODE_BYTES = 32
MAX_CHUNK_WIDTH = 23
"""Widest chunk: its offsets array has 2**23 entries (32 MB); one more bit doubles that for little gain."""
FLAT_LIMIT = 2048
"""Segments this small are scanned in full: as fast as probing them, and there is nothing to build."""

Codes = npt.NDArray[np.uint64]
Ids = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ChunkPlan:
    """How a segment cuts the stored bits: ``len(radii)`` chunks of ``width`` bits, chunk c probed within
    ``radii[c]`` bits (a radius of -1 means the chunk is not probed)."""

    width: int
    radii: tuple[int, ...]

    @property
    def count(self) -> int:
        """Number of chunks."""
        return len(self.radii)

    def firsts(self) -> npt.NDArray[np.int64]:
        """First stored bit of each chunk."""
        return np.arange(self.count, dtype=np.int64) * self.width

    def probes_per_query(self) -> int:
        """Table reads per query."""
        return sum(_ball_size(self.width, radius) for radius in self.radii if radius >= 0)


def _ball_size(width: int, radius: int) -> int:
    return sum(math.comb(width, flips) for flips in range(radius + 1))


def radii_for(count: int, threshold: int) -> tuple[int, ...]:
    """Radii whose ``radius + 1`` add up to ``threshold + 1``: the largest go to the first chunks."""
    each, extra = divmod(threshold + 1, count)
    return tuple(each if chunk < extra else each - 1 for chunk in range(count))


def plan_for(size: int, threshold: int) -> ChunkPlan:
    """The chunking with the least expected work per query for ``size`` codes, keeping tables small.

    Work is probes plus candidates (estimated for evenly spread codes; skewed codes give more candidates at
    every chunking, so the ranking holds). Chunks are at most two bits wider than log2(size), so that a small
    segment does not carry a table far larger than itself.
    """
    widest = min(MAX_CHUNK_WIDTH, max(8, math.ceil(math.log2(max(size, 2))) + 2))
    best: tuple[float, ChunkPlan] | None = None
    for count in range(1, 33):
        width = min(BITS // count, widest)
        radii = radii_for(count, threshold)
        if max(radii) >= width:
            continue
        plan = ChunkPlan(width=width, radii=radii)
        probes = plan.probes_per_query()
        cost = probes + probes * size / 2**width
        if best is None or cost < best[0]:
            best = (cost, plan)
    if best is None:
        raise ValueError(f"no chunk plan for threshold {threshold}")
    return best[1]


@functools.cache
def probe_masks(width: int, radius: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Every ``width``-bit value with at most ``radius`` bits set, fewest bits first, and for each r the
    number of masks with at most r bits."""
    masks = [0]
    within = [1]
    for flips in range(1, radius + 1):
        for positions in itertools.combinations(range(width), flips):
            masks.append(sum(1 << bit for bit in positions))
        within.append(len(masks))
    return np.array(masks, dtype=np.int64), np.array(within, dtype=np.int64)


@functools.cache
def _layout_table(bit_order: tuple[int, ...]) -> npt.NDArray[np.uint64]:
    """For each hash byte and value, the stored words it sets (stored bit i = hash bit ``bit_order[i]``)."""
    stored_position = np.empty(BITS, dtype=np.int64)
    stored_position[np.array(bit_order)] = np.arange(BITS)
    value_bits = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).astype(np.uint64)
    table = np.zeros((CODE_BYTES, 256, WORDS), dtype=np.uint64)
    for hash_bit in range(BITS):
        byte, bit_in_byte = divmod(hash_bit, 8)
        word, shift = divmod(int(stored_position[hash_bit]), 64)
        table[byte, :, word] |= value_bits[:, bit_in_byte] << np.uint64(shift)
    return table


def to_stored(raw: npt.NDArray[np.uint8], bit_order: npt.NDArray[np.int64], *, in_place: bool = False) -> Codes:
    """Stored codes (n, 4) uint64 from hash bytes (n, 32), hash bit ``bit_order[i]`` becoming stored bit i.

    With ``in_place`` the bytes of ``raw`` (which must be a C-contiguous uint8 array) are overwritten and
    reused, so that a large bank is not held twice while the index is built.
    """
    table = _layout_table(tuple(int(bit) for bit in bit_order))
    if in_place:
        if raw.dtype != np.uint8 or not raw.flags.c_contiguous or raw.shape[-1] != CODE_BYTES:
            raise ValueError("in-place conversion needs a C-contiguous (n, 32) uint8 array")
        out = raw.reshape(-1, CODE_BYTES).view(np.uint64)
    else:
        raw = np.ascontiguousarray(raw, dtype=np.uint8).reshape(-1, CODE_BYTES)
        out = np.empty((len(raw), WORDS), dtype=np.uint64)
    kernels.permute(raw.reshape(-1, CODE_BYTES), table, out)
    return out


def from_stored(codes: Codes, bit_order: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
    """Hash bytes (n, 32) from stored codes: the inverse of :func:`to_stored`."""
    stored_bits = np.unpackbits(np.ascontiguousarray(codes).view(np.uint8), axis=1, bitorder="little")
    hash_bits = np.empty_like(stored_bits)
    hash_bits[:, bit_order] = stored_bits
    return np.packbits(hash_bits, axis=1)


class Hits(NamedTuple):
    """Matches of a batch: for each, the query's position, the matched slot (or id) and the distance."""

    queries: npt.NDArray[np.int64]
    slots: npt.NDArray[np.int64]
    distances: npt.NDArray[np.int64]

    @classmethod
    def empty(cls) -> Hits:
        """No match."""
        return cls(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64))

    @classmethod
    def concat(cls, parts: list[Hits]) -> Hits:
        """All the matches of ``parts``, in order."""
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([part.queries for part in parts]),
            np.concatenate([part.slots for part in parts]),
            np.concatenate([part.distances for part in parts]),
        )


@dataclass
class Segment:
    """Codes, their ids and liveness, and (unless flat) one CSR table per chunk, laid end to end.

    ``offsets`` holds one run of ``2**width + 1`` entries per chunk; run ``c`` gives, for each value of chunk
    ``c``, where its slots start in ``slots``, which holds one run of ``len(codes)`` slots per chunk.
    """

    codes: Codes
    ids: Ids
    alive: npt.NDArray[np.bool_]
    plan: ChunkPlan | None
    offsets: npt.NDArray[np.uint32]
    slots: npt.NDArray[np.uint32]
    ids_sorted: bool

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def live_count(self) -> int:
        """How many codes have not been removed."""
        return int(np.count_nonzero(self.alive))

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays (mapped files count in full)."""
        return sum(array.nbytes for array in (self.codes, self.ids, self.alive, self.offsets, self.slots))

    @classmethod
    def build(
        cls,
        codes: Codes,
        ids: Ids,
        *,
        threshold: int,
        alive: npt.NDArray[np.bool_] | None = None,
        map_chunks: object = map,
    ) -> Segment:
        """A segment over stored ``codes`` (kept, not copied) and ``ids``; flat when small.

        ``map_chunks`` (``map`` or an executor's ``map``) lets the chunk tables be built in parallel.
        """
        size = len(ids)
        alive = np.ones(size, dtype=np.bool_) if alive is None else alive
        ids_sorted = bool(np.all(ids[1:] >= ids[:-1]))
        empty = np.empty(0, np.uint32)
        if size <= FLAT_LIMIT:
            return cls(codes, ids, alive, None, empty, empty, ids_sorted)
        plan = plan_for(size, threshold)
        if plan.count * size >= 2**32:
            raise ValueError(f"a segment of {size} codes is too large for 32-bit slot tables")
        span = 2**plan.width + 1
        offsets = np.empty(plan.count * span, dtype=np.uint32)
        slots = np.empty(plan.count * size, dtype=np.uint32)

        def build_one(chunk: int) -> None:
            kernels.build_chunk(
                codes,
                chunk * plan.width,
                plan.width,
                chunk * size,
                offsets[chunk * span : (chunk + 1) * span],
                slots[chunk * size : (chunk + 1) * size],
            )

        for _ in map_chunks(build_one, range(plan.count)):  # type: ignore[operator]
            pass
        # The smaller radii go to the most crowded chunks, where each probe costs the most candidates.
        crowding = [kernels.bucket_collisions(offsets[c * span : (c + 1) * span]) for c in range(plan.count)]
        radii = sorted(plan.radii, reverse=True)
        by_crowding = sorted(range(plan.count), key=lambda chunk: crowding[chunk])
        assigned = [0] * plan.count
        for chunk, radius in zip(by_crowding, radii, strict=True):
            assigned[chunk] = radius
        plan = ChunkPlan(width=plan.width, radii=tuple(assigned))
        return cls(codes, ids, alive, plan, offsets, slots, ids_sorted)

    def search(self, queries: Codes, max_distance: int) -> Hits:
        """Live codes within ``max_distance`` of each stored query code (slots are this segment's)."""
        capacity = max(64, 8 * len(queries))
        while True:
            out_query = np.empty(capacity, dtype=np.int64)
            out_slot = np.empty(capacity, dtype=np.int64)
            out_distance = np.empty(capacity, dtype=np.int64)
            if self.plan is None:
                found = kernels.scan_search(
                    self.codes, self.alive, len(self), queries, max_distance, out_query, out_slot, out_distance
                )
            else:
                masks, within = probe_masks(self.plan.width, max(self.plan.radii))
                found = kernels.probe_search(
                    self.codes,
                    self.alive,
                    self.offsets,
                    self.slots,
                    self.plan.firsts(),
                    self.plan.width,
                    np.array(self.plan.radii, dtype=np.int64),
                    masks,
                    within,
                    queries,
                    max_distance,
                    out_query,
                    out_slot,
                    out_distance,
                )
            if found >= 0:
                return Hits(out_query[:found], out_slot[:found], out_distance[:found])
            capacity *= 4  # a query near a large family of copies: run again with room for all of them

    def positions_of(self, ids: Ids) -> npt.NDArray[np.int64]:
        """Slots holding any of ``ids`` (removed or not)."""
        if self.ids_sorted:
            left = np.searchsorted(self.ids, ids, side="left")
            right = np.searchsorted(self.ids, ids, side="right")
            spans = right - left
            starts = np.repeat(left - np.cumsum(spans) + spans, spans)
            return (starts + np.arange(int(spans.sum()))).astype(np.int64)
        return np.flatnonzero(np.isin(self.ids, ids)).astype(np.int64)
