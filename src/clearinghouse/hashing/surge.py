"""Watching for bank hashes that suddenly match far more than their share of lookups.

A bank hash that matches a large share of everything looked up is almost always a mistake in the bank (a
logo, a blank frame, a meme that entered a list of abuse content), and every match it makes is a false one.
Matches are still reported, marked ``surge``, so that an analyst reviews the hash rather than the matches.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from clearinghouse.hashing.settings import SURGE_MIN_MATCHES, SURGE_SHARE, SURGE_WINDOW


@dataclass(frozen=True)
class SurgeFlag:
    """A bank hash flagged for review: its matches among the lookups of the window."""

    hash_id: int
    matches: int
    lookups: int

    @property
    def share(self) -> float:
        """Fraction of the window's lookups that matched this hash."""
        return self.matches / self.lookups if self.lookups else 0.0


class SurgeMonitor:
    """Counts, over the last ``window`` lookups, how many matched each bank hash.

    A hash is surging when it matched at least ``min_matches`` of those lookups and more than ``share`` of
    them (of all lookups so far, while fewer than ``window`` have been made).
    """

    def __init__(
        self, *, window: int = SURGE_WINDOW, min_matches: int = SURGE_MIN_MATCHES, share: float = SURGE_SHARE
    ) -> None:
        if window < 1 or min_matches < 1 or not 0 < share < 1:
            raise ValueError("window and min_matches must be positive and share between 0 and 1")
        self.window = window
        self.min_matches = min_matches
        self.share = share
        self._recent: deque[tuple[int, ...]] = deque()
        self._counts: Counter[int] = Counter()
        self._lock = threading.Lock()

    def record(self, lookups: Iterable[Collection[int]]) -> None:
        """Record lookups, each given as the ids of the bank hashes it matched (empty when none)."""
        with self._lock:
            for matched in lookups:
                ids = tuple(set(matched))
                self._recent.append(ids)
                self._counts.update(ids)
                if len(self._recent) > self.window:
                    expired = self._recent.popleft()
                    self._counts.subtract(expired)
                    for hash_id in expired:
                        if self._counts[hash_id] <= 0:
                            del self._counts[hash_id]

    def is_surging(self, hash_id: int) -> bool:
        """Whether ``hash_id`` is flagged now."""
        matches = self._counts.get(hash_id, 0)
        lookups = len(self._recent)
        return matches >= self.min_matches and matches > self.share * lookups

    def surging(self) -> list[SurgeFlag]:
        """Every flagged hash, most matches first."""
        with self._lock:
            lookups = len(self._recent)
            return [
                SurgeFlag(hash_id, matches, lookups)
                for hash_id, matches in self._counts.most_common()
                if matches >= self.min_matches and matches > self.share * lookups
            ]
