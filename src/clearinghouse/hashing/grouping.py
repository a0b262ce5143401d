"""Grouping files that are the same picture: same MD5, or PDQ hashes within the match distance.

Used for the published figure of unique files after visually similar images are grouped: every file is a
node, files with the same MD5 are joined, and so are files whose PDQ hashes (both of usable quality) are within
PDQ_MATCH_DISTANCE; the figure is the number of connected groups. A file with neither hash is a group of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from clearinghouse.hashing.pdq_index import PdqIndex, hashes_from_hex
from clearinghouse.hashing.settings import PDQ_MATCH_DISTANCE
from clearinghouse.hashing.types import PdqHash


class _Groups:
    """Union-find over file positions (path halving, union by size)."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))
        self.size = [1] * size
        self.count = size

    def find(self, item: int) -> int:
        parent = self.parent
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    def join(self, first: int, second: int) -> None:
        a, b = self.find(first), self.find(second)
        if a == b:
            return
        if self.size[a] < self.size[b]:
            a, b = b, a
        self.parent[b] = a
        self.size[a] += self.size[b]
        self.count -= 1


def count_groups(md5s: Sequence[str | None], pdqs: Sequence[str | None], qualities: Sequence[int | None]) -> int:
    """How many distinct pictures the files are, joining same-MD5 files and visually similar ones."""
    if not (len(md5s) == len(pdqs) == len(qualities)):
        raise ValueError("md5s, pdqs and qualities must be equally long")
    groups = _Groups(len(md5s))
    first_of: dict[str, int] = {}
    for position, md5 in enumerate(md5s):
        if md5 is None:
            continue
        earlier = first_of.setdefault(md5, position)
        if earlier != position:
            groups.join(earlier, position)
    usable = [
        i for i, (pdq, quality) in enumerate(zip(pdqs, qualities, strict=True)) if pdq and PdqHash.usable(quality)
    ]
    if len(usable) > 1:
        hashes = hashes_from_hex([str(pdqs[i]) for i in usable])
        index = PdqIndex.build(hashes, np.arange(len(usable)), threshold=PDQ_MATCH_DISTANCE, learn_layout=False)
        try:
            found = index.search(hashes)
        finally:
            index.close()
        for query, other in zip(found.queries.tolist(), found.ids.tolist(), strict=True):
            if query != other:
                groups.join(usable[query], usable[other])
    return groups.count
