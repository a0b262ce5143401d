"""The exact index: MD5, SHA-1 and SHA-256 values found by equality, as 64-bit prefixes in sorted runs.

Cryptographic digests are uniformly spread, so the first 64 bits of each, sorted, are both a compact key and
a perfect bucket address: a lookup reads one entry of a bucket table (the key's top bits) and compares the
two or three keys of that bucket. Only the prefix is held; a hit is a candidate that the matcher confirms on
the full value in the store, so two digests sharing 64 bits can never produce a false match.

As in the perceptual index, adds collect in a small dictionary, become a sorted run when it fills, and runs
of similar size are merged (log-structured), so adding never rebuilds the whole table.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from clearinghouse.hashing import kernels
from clearinghouse.hashing.settings import EXACT_PREFIX_BYTES

RECENT_CAPACITY = 4096
"""Adds held in a dictionary before they become a sorted run."""
MERGE_RATIO = 2
"""A run is merged into the previous one once that one is at most this many times its size."""

Keys = npt.NDArray[np.uint64]
Ids = npt.NDArray[np.int64]


class ExactMatches(NamedTuple):
    """Candidates of a batch of lookups: position of the query and id of an entry with the same prefix."""

    queries: npt.NDArray[np.int64]
    ids: npt.NDArray[np.int64]


def prefixes_from_hex(values: list[str]) -> Keys:
    """64-bit keys from hex digests (already validated): their first 16 hex digits, big-endian."""
    if not values:
        return np.empty(0, dtype=np.uint64)
    width = 2 * EXACT_PREFIX_BYTES
    joined = bytes.fromhex("".join(value[:width] for value in values))
    return np.frombuffer(joined, dtype=">u8").astype(np.uint64)


def prefixes_from_digests(digests: npt.NDArray[np.uint8]) -> Keys:
    """64-bit keys from raw digests (n, digest size)."""
    head = np.ascontiguousarray(np.asarray(digests, dtype=np.uint8)[:, :EXACT_PREFIX_BYTES])
    return head.view(">u8").reshape(-1).astype(np.uint64)


@dataclass
class SortedRun:
    """Keys sorted ascending with their ids and liveness, and the start of each top-bits bucket."""

    keys: Keys
    ids: Ids
    alive: npt.NDArray[np.bool_]
    shift: int
    offsets: npt.NDArray[np.uint32]

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def live_count(self) -> int:
        """Entries not removed."""
        return int(np.count_nonzero(self.alive))

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return self.keys.nbytes + self.ids.nbytes + self.alive.nbytes + self.offsets.nbytes

    @classmethod
    def build(cls, keys: Keys, ids: Ids, *, presorted: bool = False) -> SortedRun:
        """A run over ``keys`` and ``ids`` (sorted here unless ``presorted``)."""
        if not presorted:
            order = np.argsort(keys, kind="stable")
            keys, ids = keys[order], ids[order]
        # About two keys a bucket: the table costs half a key of memory per entry.
        bits = min(max(math.ceil(math.log2(max(len(keys), 2))) - 1, 4), 28)
        offsets = np.empty(2**bits + 1, dtype=np.uint32)
        shift = 64 - bits
        kernels.bucket_offsets(keys, shift, offsets)
        return cls(keys, ids, np.ones(len(keys), dtype=np.bool_), shift, offsets)

    def lookup(self, queries: Keys) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """For each live entry equal to a query: the query's position and the entry's id."""
        capacity = max(16, len(queries) // 8)
        while True:
            out_query = np.empty(capacity, dtype=np.int64)
            out_position = np.empty(capacity, dtype=np.int64)
            found = kernels.exact_lookup(
                self.keys, self.alive, self.offsets, self.shift, queries, out_query, out_position
            )
            if found >= 0:
                return out_query[:found], self.ids[out_position[:found]]
            capacity *= 4

    def remove(self, keys: Keys, ids: Ids) -> int:
        """Mark entries with these (key, id) pairs removed; returns how many were live."""
        queries, found_ids = self.lookup(keys)
        hit = found_ids == ids[queries]
        if not hit.any():
            return 0
        left = np.searchsorted(self.keys, keys[queries[hit]], side="left")
        right = np.searchsorted(self.keys, keys[queries[hit]], side="right")
        removed = 0
        for start, stop, entry in zip(left, right, found_ids[hit], strict=True):
            positions = start + np.flatnonzero((self.ids[start:stop] == entry) & self.alive[start:stop])
            self.alive[positions] = False
            removed += len(positions)
        return removed


class ExactIndex:
    """Digest prefixes with integer ids, looked up by equality; safe to look up from many threads."""

    def __init__(self) -> None:
        self._runs: list[SortedRun] = []
        self._recent: dict[int, list[int]] = {}
        self._recent_count = 0
        self._recent_keys: Keys | None = None
        self._write_lock = threading.Lock()

    @classmethod
    def build(cls, keys: npt.ArrayLike, ids: npt.ArrayLike) -> ExactIndex:
        """An index over ``keys`` (uint64 prefixes) and their ``ids``, in one run."""
        index = cls()
        key_array = np.asarray(keys, dtype=np.uint64).reshape(-1)
        id_array = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(key_array) != len(id_array):
            raise ValueError(f"{len(key_array)} keys but {len(id_array)} ids")
        if len(key_array):
            index._runs = [SortedRun.build(key_array, id_array)]
        return index

    def add(self, keys: npt.ArrayLike, ids: npt.ArrayLike) -> None:
        """Add entries; they are found by the next lookup."""
        key_array = np.asarray(keys, dtype=np.uint64).reshape(-1)
        id_array = np.asarray(ids, dtype=np.int64).reshape(-1)
        with self._write_lock:
            if len(key_array) >= RECENT_CAPACITY:
                self._push(SortedRun.build(key_array, id_array))
                return
            for key, entry in zip(key_array.tolist(), id_array.tolist(), strict=True):
                self._recent.setdefault(key, []).append(entry)
            self._recent_count += len(id_array)
            self._recent_keys = None
            if self._recent_count >= RECENT_CAPACITY:
                self._flush_recent()

    def _flush_recent(self) -> None:
        pairs = [(key, entry) for key, entries in self._recent.items() for entry in entries]
        self._recent = {}
        self._recent_count = 0
        self._recent_keys = None
        if pairs:
            keys = np.array([key for key, _ in pairs], dtype=np.uint64)
            ids = np.array([entry for _, entry in pairs], dtype=np.int64)
            self._push(SortedRun.build(keys, ids))

    def _push(self, run: SortedRun) -> None:
        runs = [*self._runs, run]
        while len(runs) >= 2 and runs[-2].live_count <= MERGE_RATIO * runs[-1].live_count:
            newer, older = runs.pop(), runs.pop()
            runs.append(_merge([older, newer]))
        self._runs = runs

    def remove(self, keys: npt.ArrayLike, ids: npt.ArrayLike) -> int:
        """Remove the entries with these (key, id) pairs; returns how many were present. Immediate."""
        key_array = np.asarray(keys, dtype=np.uint64).reshape(-1)
        id_array = np.asarray(ids, dtype=np.int64).reshape(-1)
        removed = 0
        with self._write_lock:
            for run in self._runs:
                removed += run.remove(key_array, id_array)
            for key, entry in zip(key_array.tolist(), id_array.tolist(), strict=True):
                entries = self._recent.get(key)
                if entries and entry in entries:
                    entries.remove(entry)
                    self._recent_count -= 1
                    removed += 1
                    if not entries:
                        del self._recent[key]
                        self._recent_keys = None
        return removed

    def compact(self) -> None:
        """Merge everything into one run, dropping removed entries."""
        with self._write_lock:
            self._flush_recent()
            if self._runs:
                self._runs = [_merge(self._runs)]

    def lookup(self, keys: npt.ArrayLike) -> ExactMatches:
        """Ids of the live entries equal to each key, ordered by query position."""
        queries = np.ascontiguousarray(np.asarray(keys, dtype=np.uint64).reshape(-1))
        runs, recent = self._runs, self._recent
        found_queries: list[npt.NDArray[np.int64]] = []
        found_ids: list[npt.NDArray[np.int64]] = []
        for run in runs:
            positions, ids = run.lookup(queries)
            found_queries.append(positions)
            found_ids.append(ids)
        if recent:
            recent_keys = self._recent_keys
            if recent_keys is None:
                recent_keys = np.fromiter(recent.keys(), dtype=np.uint64, count=len(recent))
                self._recent_keys = recent_keys
            hits = np.flatnonzero(np.isin(queries, recent_keys))
            pairs = [(int(position), entry) for position in hits for entry in recent.get(int(queries[position]), [])]
            found_queries.append(np.array([position for position, _ in pairs], dtype=np.int64))
            found_ids.append(np.array([entry for _, entry in pairs], dtype=np.int64))
        if not found_queries:
            return ExactMatches(np.empty(0, np.int64), np.empty(0, np.int64))
        all_queries = np.concatenate(found_queries)
        all_ids = np.concatenate(found_ids)
        order = np.lexsort((all_ids, all_queries))
        return ExactMatches(all_queries[order], all_ids[order])

    def __len__(self) -> int:
        return sum(run.live_count for run in self._runs) + self._recent_count

    @property
    def runs(self) -> list[SortedRun]:
        """The sorted runs, largest first (entries still in the dictionary are not among them)."""
        return list(self._runs)

    def recent_entries(self) -> tuple[Keys, Ids]:
        """Keys and ids of the adds not yet in a run."""
        pairs = [(key, entry) for key, entries in self._recent.items() for entry in entries]
        return np.array([key for key, _ in pairs], dtype=np.uint64), np.array([e for _, e in pairs], dtype=np.int64)

    def load_runs(self, runs: list[SortedRun]) -> None:
        """Replace the content with ready-made runs (used when a snapshot is read)."""
        with self._write_lock:
            self._runs = list(runs)
            self._recent = {}
            self._recent_count = 0
            self._recent_keys = None

    @property
    def nbytes(self) -> int:
        """Memory held by the runs."""
        return sum(run.nbytes for run in self._runs)


def _merge(runs: list[SortedRun]) -> SortedRun:
    keys = np.concatenate([run.keys[run.alive] for run in runs])
    ids = np.concatenate([run.ids[run.alive] for run in runs])
    return SortedRun.build(keys, ids)
