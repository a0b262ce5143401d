"""Benchmark of the exact index (MD5, SHA-1, SHA-256 by equality) at clearinghouse scale.

    python bench/bench_exact.py               # the issue's size: 50 million entries
    python bench/bench_exact.py --quick       # 5 million entries

Entries are random 64-bit digest prefixes (cryptographic digests are uniformly spread, so random values are
a faithful model); lookups are half present, half absent, in random order. Lookups are timed from prefixes
(the index's own work) and from hex strings (what a caller holds). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from bench_pdq import peak_rss_mb
from clearinghouse.hashing.exact_index import ExactIndex, prefixes_from_hex


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=50_000_000, help="entries (default: the issue's 50 million)")
    parser.add_argument("--lookups", type=int, default=2_000_000, help="lookups timed, half of them present")
    parser.add_argument("--adds", type=int, default=100_000, help="entries added one at a time after the build")
    parser.add_argument("--quick", action="store_true", help="5 million entries")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random data")
    args = parser.parse_args()
    if args.quick:
        args.size, args.lookups, args.adds = 5_000_000, 1_000_000, 20_000
    print(f"exact-hash benchmark: {args.size:,} entries, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    rng = np.random.default_rng(args.seed)
    keys = rng.integers(0, 2**64, args.size, dtype=np.uint64, endpoint=False)
    present = keys[rng.integers(0, args.size, args.lookups // 2)]
    absent = rng.integers(0, 2**64, args.lookups - len(present), dtype=np.uint64, endpoint=False)
    queries = np.concatenate([present, absent])
    rng.shuffle(queries)
    tails = rng.integers(0, 2**64, len(queries), dtype=np.uint64, endpoint=False)
    hex_queries = [f"{int(head):016x}{int(tail):016x}" for head, tail in zip(queries, tails, strict=True)]

    started = time.perf_counter()
    index = ExactIndex.build(keys, np.arange(args.size, dtype=np.int64))
    build_seconds = time.perf_counter() - started
    del keys
    index.lookup(queries[:1000])  # compile the kernel before timing

    started = time.perf_counter()
    found = index.lookup(queries)
    from_prefixes = len(queries) / (time.perf_counter() - started)
    started = time.perf_counter()
    found_hex = index.lookup(prefixes_from_hex(hex_queries))
    from_hex = len(queries) / (time.perf_counter() - started)
    assert len(found_hex.ids) == len(found.ids)

    additions = rng.integers(0, 2**64, args.adds, dtype=np.uint64, endpoint=False)
    started = time.perf_counter()
    for position, key in enumerate(additions):
        index.add([key], [args.size + position])
    adds_per_second = args.adds / (time.perf_counter() - started)
    found_added = len(set(index.lookup(additions).queries.tolist()))

    print(f"{'build':32} {build_seconds:,.1f} s")
    print(f"{'lookups/s from prefixes':32} {from_prefixes:,.0f}   target >= 1,000,000 against 50 million")
    print(f"{'lookups/s from hex strings':32} {from_hex:,.0f}   (includes parsing the hex)")
    print(f"{'hits':32} {len(found.ids):,} of {len(queries):,} lookups ({len(present):,} present)")
    print(f"{'incremental adds/s':32} {adds_per_second:,.0f}   ({found_added:,} of {args.adds:,} found after)")
    print(f"{'index memory':32} {index.nbytes / 2**20:,.0f} MB")
    print(f"{'peak memory':32} {peak_rss_mb():,.0f} MB   (including the benchmark's own arrays)")


if __name__ == "__main__":
    main()
