"""The matcher: exact and PDQ lookups against every bank at once, in batches, with allow-list suppression.

The in-memory indexes only propose candidates (hash ids); every candidate is then read back from the store
with its bank and entry. So a hash removed from a bank stops matching at the next lookup in every process,
even one whose index still holds it, and an exact hit is confirmed on the full value. Hashes added since the
matcher was built are picked up by :meth:`Matcher.refresh` (done before each lookup by default).

Build it from the store at start (:meth:`Matcher.from_store`), or read a snapshot written by another process
(:meth:`Matcher.load`, memory-mapped and shared) and catch up with :meth:`Matcher.refresh`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from clearinghouse.hashing import service, snapshot, types
from clearinghouse.hashing.exact_index import ExactIndex, prefixes_from_hex
from clearinghouse.hashing.image import hash_content
from clearinghouse.hashing.models import BankKind
from clearinghouse.hashing.pdq_index import PdqIndex, hashes_from_hex
from clearinghouse.hashing.schemas import HashQuery, LookupResult, MatchRead
from clearinghouse.hashing.service import HashRow
from clearinghouse.hashing.surge import SurgeFlag, SurgeMonitor

_LOAD_BLOCK = 100_000


class Matcher:
    """Every bank's hashes, indexed for exact and near lookups."""

    def __init__(
        self,
        *,
        pdq: PdqIndex | None = None,
        exact: dict[str, ExactIndex] | None = None,
        surge: SurgeMonitor | None = None,
        high_water: int = 0,
        workers: int = 2,
    ) -> None:
        self.pdq = pdq or PdqIndex(threshold=types.PdqHash.match_distance, workers=workers)
        self.exact = {hash_type.name: ExactIndex() for hash_type in _exact_types()}
        self.exact.update(exact or {})
        self.surge = surge or SurgeMonitor()
        self.high_water = high_water
        """Highest bank-hash id the indexes have seen; later ones are read by :meth:`refresh`."""
        self.skipped_low_quality = 0
        """Bank PDQ hashes left out of the index: their quality is below the floor, or they are all zeros."""

    # -- building -------------------------------------------------------------------------------------------

    @classmethod
    def from_store(cls, *, session: Session, workers: int = 2) -> Matcher:
        """A matcher over every hash of every bank, read from the store in id order."""
        matcher = cls(workers=workers)
        exact_keys: dict[str, list[npt.NDArray[np.uint64]]] = defaultdict(list)
        exact_ids: dict[str, list[npt.NDArray[np.int64]]] = defaultdict(list)
        pdq_hashes: list[npt.NDArray[np.uint8]] = []
        pdq_ids: list[npt.NDArray[np.int64]] = []
        block: list[tuple[int, str, str, int | None]] = []

        def flush() -> None:
            by_type: dict[str, list[tuple[int, str, str, int | None]]] = defaultdict(list)
            for row in block:
                by_type[row[1]].append(row)
            for name, rows in by_type.items():
                if name in matcher.exact:
                    exact_keys[name].append(prefixes_from_hex([value for _, _, value, _ in rows]))
                    exact_ids[name].append(np.array([entry for entry, _, _, _ in rows], dtype=np.int64))
                elif name == types.PdqHash.name:
                    usable = [row for row in rows if types.PdqHash.usable(row[3], row[2])]
                    matcher.skipped_low_quality += len(rows) - len(usable)
                    pdq_hashes.append(hashes_from_hex([value for _, _, value, _ in usable]))
                    pdq_ids.append(np.array([entry for entry, _, _, _ in usable], dtype=np.int64))
            block.clear()

        for row in service.index_entries_after(session=session):
            block.append(row)
            matcher.high_water = row[0]
            if len(block) >= _LOAD_BLOCK:
                flush()
        flush()
        for name in exact_keys:
            matcher.exact[name] = ExactIndex.build(np.concatenate(exact_keys[name]), np.concatenate(exact_ids[name]))
        if pdq_ids:
            matcher.pdq = PdqIndex.build(
                np.concatenate(pdq_hashes),
                np.concatenate(pdq_ids),
                threshold=types.PdqHash.match_distance,
                in_place=True,
                workers=workers,
            )
        return matcher

    def refresh(self, *, session: Session) -> int:
        """Index the bank hashes added since the last refresh; returns how many were read."""
        rows = list(service.index_entries_after(session=session, after_id=self.high_water))
        self.add(rows)
        return len(rows)

    def add(self, rows: Iterable[tuple[int, str, str, int | None] | HashRow]) -> None:
        """Index these bank hashes: (id, hash type, value, quality) tuples or rows read from the store."""
        by_type: dict[str, list[tuple[int, str, str, int | None]]] = defaultdict(list)
        for row in rows:
            entry = (row.id, row.hash_type, row.value, row.quality) if isinstance(row, HashRow) else row
            by_type[entry[1]].append(entry)
            self.high_water = max(self.high_water, entry[0])
        for name, group in by_type.items():
            if name in self.exact:
                keys = prefixes_from_hex([value for _, _, value, _ in group])
                self.exact[name].add(keys, [entry for entry, _, _, _ in group])
            elif name == types.PdqHash.name:
                usable = [entry for entry in group if types.PdqHash.usable(entry[3], entry[2])]
                self.skipped_low_quality += len(group) - len(usable)
                if usable:
                    hashes = hashes_from_hex([value for _, _, value, _ in usable])
                    self.pdq.add(hashes, [entry for entry, _, _, _ in usable])

    def forget(self, rows: Iterable[HashRow]) -> int:
        """Drop these bank hashes from the indexes (they no longer match either way); returns how many."""
        removed = 0
        by_type: dict[str, list[HashRow]] = defaultdict(list)
        for row in rows:
            by_type[row.hash_type].append(row)
        for name, group in by_type.items():
            if name in self.exact:
                keys = prefixes_from_hex([row.value for row in group])
                removed += self.exact[name].remove(keys, [row.id for row in group])
            elif name == types.PdqHash.name:
                removed += self.pdq.remove([row.id for row in group])
        return removed

    # -- snapshots ------------------------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write the indexes to ``directory`` (see ``snapshot``), with the high-water mark."""
        metadata = {"high_water": self.high_water, "skipped_low_quality": self.skipped_low_quality}
        snapshot.save(Path(directory), snapshot.Snapshot(pdq=self.pdq, exact=self.exact, metadata=metadata))

    @classmethod
    def load(cls, directory: Path, *, mmap: bool = True, workers: int = 2) -> Matcher:
        """A matcher from a snapshot; call :meth:`refresh` to add what the store gained since."""
        loaded = snapshot.load(Path(directory), mmap=mmap, workers=workers)
        matcher = cls(
            pdq=loaded.pdq, exact=loaded.exact, high_water=int(loaded.metadata.get("high_water", 0)), workers=workers
        )
        matcher.skipped_low_quality = int(loaded.metadata.get("skipped_low_quality", 0))
        return matcher

    # -- lookups --------------------------------------------------------------------------------------------

    def lookup(self, *, session: Session, query: HashQuery, refresh: bool = True) -> LookupResult:
        """Everything one file's hashes match."""
        return self.lookup_many(session=session, queries=[query], refresh=refresh)[0]

    def lookup_content(
        self, *, session: Session, contents: Sequence[bytes], refresh: bool = True
    ) -> list[LookupResult]:
        """Hash each file held in memory and look the hashes up."""
        queries = [_query_for(content) for content in contents]
        return self.lookup_many(session=session, queries=queries, refresh=refresh)

    def lookup_many(
        self, *, session: Session, queries: Sequence[HashQuery], refresh: bool = True
    ) -> list[LookupResult]:
        """Everything each query matches, in the order given: the batch call of the tipline and the CLI."""
        if refresh:
            self.refresh(session=session)
        candidates: dict[int, list[tuple[int, int]]] = defaultdict(list)  # query position -> (hash id, distance)
        results = [LookupResult(query=query) for query in queries]
        for name, index in self.exact.items():
            positions = [i for i, query in enumerate(queries) if query.values().get(name)]
            if not positions:
                continue
            found = index.lookup(prefixes_from_hex([queries[i].values()[name] for i in positions]))
            for query_index, hash_id in zip(found.queries.tolist(), found.ids.tolist(), strict=True):
                candidates[positions[query_index]].append((hash_id, 0))
        near = []
        for position, query in enumerate(queries):
            if query.pdq is None:
                continue
            if types.PdqHash.usable(query.pdq_quality, query.pdq):
                near.append(position)
            else:
                results[position].pdq_skipped = _too_little_detail(query.pdq_quality, query.pdq)
        if near:
            found_near = self.pdq.search(hashes_from_hex([str(queries[i].pdq) for i in near]))
            for query_index, hash_id, distance in zip(
                found_near.queries.tolist(), found_near.ids.tolist(), found_near.distances.tolist(), strict=True
            ):
                candidates[near[query_index]].append((hash_id, distance))
        rows = service.hash_rows(
            session=session, ids=[hash_id for pairs in candidates.values() for hash_id, _ in pairs]
        )
        matched: list[set[int]] = [set() for _ in queries]
        for position, pairs in candidates.items():
            for hash_id, distance in pairs:
                row = rows.get(hash_id)
                if row is None or not _confirmed(row, queries[position], distance):
                    continue  # removed from its bank since it was indexed, or a prefix that only looked alike
                results[position].matches.append(_match(row, distance))
                if row.bank_kind is not BankKind.ALLOW_LIST:
                    matched[position].add(hash_id)
        self.surge.record(matched)
        for result in results:
            _suppress_allow_listed(result)
            for match in result.matches:
                match.surge = self.surge.is_surging(match.hash_id)
        return results

    def surging(self) -> list[SurgeFlag]:
        """Bank hashes currently matching far more than their share of lookups."""
        return self.surge.surging()

    def __len__(self) -> int:
        return len(self.pdq) + sum(len(index) for index in self.exact.values())

    def close(self) -> None:
        """Stop the perceptual index's worker threads."""
        self.pdq.close()


def _exact_types() -> list[type[types.HashType]]:
    return [hash_type for hash_type in types.matchable() if hash_type.index_kind is types.IndexKind.EXACT]


def _query_for(content: bytes) -> HashQuery:
    hashes = hash_content(content)
    return HashQuery(
        md5=hashes.md5, sha1=hashes.sha1, sha256=hashes.sha256, pdq=hashes.pdq, pdq_quality=hashes.pdq_quality
    )


def _too_little_detail(quality: int | None, value: str) -> str:
    if types.PdqHash.flat(value):
        return "all 256 bits are 0, the hash of a flat picture: too little detail to match"
    return f"quality {quality} is below {types.PdqHash.min_quality}: too little detail to match"


def _confirmed(row: HashRow, query: HashQuery, distance: int) -> bool:
    if row.hash_type == types.PdqHash.name:
        return True
    return query.values().get(row.hash_type) == row.value and distance == 0


def _match(row: HashRow, distance: int) -> MatchRead:
    return MatchRead(
        bank_id=row.bank_id,
        bank=row.bank,
        bank_kind=row.bank_kind,
        entry_id=row.entry_id,
        hash_id=row.id,
        hash_type=row.hash_type,
        value=row.value,
        distance=distance,
        series=row.series,
        category=row.category,
        victim_identified=row.victim_identified,
    )


def _suppress_allow_listed(result: LookupResult) -> None:
    """A file on an allow-list is benign: its other matches are withheld (counted, not listed)."""
    allowed = [match for match in result.matches if match.bank_kind is BankKind.ALLOW_LIST]
    others = [match for match in result.matches if match.bank_kind is not BankKind.ALLOW_LIST]
    others.sort(key=lambda match: (match.distance, match.bank, match.hash_id))
    if allowed:
        result.allow_listed = sorted(allowed, key=lambda match: (match.distance, match.bank, match.hash_id))
        result.suppressed = len(others)
        result.matches = []
    else:
        result.matches = others
