"""Benchmark of the perceptual (PDQ) index against brute force and against threatexchange's PDQ index.

    python bench/bench_pdq.py                 # the issue's size: a bank of 10 million hashes
    python bench/bench_pdq.py --quick         # 1 million hashes, fewer queries (a minute or two)

The bank comes from ``clearinghouse.hashing.pdq_synthetic`` (families of near-duplicates, uneven and
correlated bit frequencies; see docs/matching.md). Queries are held-out near-duplicates of bank pictures and
unrelated pictures, half each. Each index runs in its own process, so each peak memory figure is that
index's alone: the parent only generates data and computes the brute-force answers (faiss, exhaustive).
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from clearinghouse.hashing import pdq_synthetic as synthetic

THRESHOLD = 31


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB.

    Linux's VmHWM belongs to the process's own address space; ``ru_maxrss`` would also count the parent's
    memory at the time it started this process (it survives ``exec``), so it is only the fallback.
    """
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(folder: Path, size: int, queries: int, adds: int, seed: int) -> None:
    """Bank, queries, edge queries and hashes to add later, saved as .npy files in ``folder``."""
    started = time.perf_counter()
    hashes, _, roots = synthetic.bank_with_roots(size + adds, seed=seed, keep_roots=queries // 2)
    # The added hashes are the bank's last rows, so they belong to families like any others.
    np.save(folder / "bank.npy", hashes[:size], allow_pickle=False)
    np.save(folder / "adds.npy", hashes[size:], allow_pickle=False)
    near = synthetic.held_out_copies(roots, seed=seed + 1)
    far = synthetic.unrelated(queries - len(near), seed=seed + 2)
    mixed = np.concatenate([near, far])
    np.random.default_rng(seed + 3).shuffle(mixed)
    np.save(folder / "queries.npy", mixed, allow_pickle=False)
    rng = np.random.default_rng(seed + 4)
    picked = hashes[rng.choice(size, 300, replace=False)]
    edges = np.concatenate([synthetic.flip_bits(picked[i::3], d, seed=d) for i, d in enumerate((30, 31, 32))])
    np.save(folder / "edges.npy", edges, allow_pickle=False)
    print(
        f"generated {size:,} bank hashes, {queries:,} queries, {adds:,} to add in {time.perf_counter() - started:.0f} s"
    )


def brute_force(folder: Path, recall_queries: int) -> dict[str, Any]:
    """Exhaustive answers (faiss IndexBinaryFlat) for the recall queries: every pair within the threshold."""
    import faiss

    bank = np.load(folder / "bank.npy")
    queries = np.concatenate([np.load(folder / "queries.npy")[:recall_queries], np.load(folder / "edges.npy")])
    index = faiss.IndexBinaryFlat(256)
    index.add(bank)
    started = time.perf_counter()
    limits, distances, labels = index.range_search(queries, THRESHOLD + 1)
    elapsed = time.perf_counter() - started
    owners = np.repeat(np.arange(len(queries)), np.diff(limits).astype(np.int64))
    np.save(folder / "recall_queries.npy", queries, allow_pickle=False)
    np.save(
        folder / "truth.npy",
        np.stack([owners, labels.astype(np.int64), distances.astype(np.int64)]),
        allow_pickle=False,
    )
    at_threshold = int(np.count_nonzero(distances == THRESHOLD))
    return {"pairs": len(labels), "at_threshold": at_threshold, "seconds": elapsed, "queries": len(queries)}


def recall_of(found: set[tuple[int, int, int]], folder: Path) -> dict[str, Any]:
    truth_rows = np.load(folder / "truth.npy")
    truth = set(zip(*(row.tolist() for row in truth_rows), strict=True))
    return {
        "recall": len(found & truth) / max(1, len(truth)),
        "missed": len(truth - found),
        "extra": len(found - truth),
    }


def worker_ours(folder: Path, threads: int, adds_limit: int) -> dict[str, Any]:
    """Our index: build, lookups (1 and ``threads`` threads), recall, incremental adds, memory."""
    from clearinghouse.hashing.pdq_index import PdqIndex

    bank = np.load(folder / "bank.npy")
    ids = np.arange(len(bank), dtype=np.int64)
    warm = PdqIndex.build(bank[:5000].copy(), ids[:5000])  # compile the kernels before timing
    warm.search(bank[:10])
    warm.close()
    started = time.perf_counter()
    index = PdqIndex.build(bank, ids, in_place=True, workers=threads)
    build_seconds = time.perf_counter() - started
    del bank
    report: dict[str, Any] = {"build_seconds": build_seconds, "index_mb": index.stats()["bytes"] / 2**20}
    queries = np.load(folder / "queries.npy")
    for label, workers in (("qps_1_thread", 1), (f"qps_{threads}_threads", threads)):
        index.workers = workers
        index.search(queries[:256])
        cpu, started = time.process_time(), time.perf_counter()
        found = index.search(queries)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        report[label] = len(queries) / wall
        report[label.replace("qps", "cpu_us_per_query")] = cpu / len(queries) * 1e6
        # Cores this process actually got: on a shared machine, less than the threads it ran.
        report[label.replace("qps", "cores_used")] = cpu / wall
    report["matches_per_query"] = len(found.ids) / len(queries)
    recall_queries = np.load(folder / "recall_queries.npy")
    hits = index.search(recall_queries)
    report |= recall_of(
        set(zip(hits.queries.tolist(), hits.ids.tolist(), hits.distances.tolist(), strict=True)), folder
    )
    adds = np.load(folder / "adds.npy")[:adds_limit]
    started = time.perf_counter()
    for row in range(len(adds)):
        index.add(adds[row], [len(ids) + row])
    report["adds_per_second"] = len(adds) / (time.perf_counter() - started)
    report["adds"] = len(adds)
    check = index.search(adds[:: max(1, len(adds) // 1000)], max_distance=0)
    report["adds_found"] = bool(len(set(check.queries.tolist())) == len(adds[:: max(1, len(adds) // 1000)]))
    report["segments_after_adds"] = [len(segment) for segment in index.segments]
    started = time.perf_counter()
    index.add(np.load(folder / "queries.npy")[:10_000], np.arange(10_000) + 10**9)
    report["bulk_add_10k_seconds"] = time.perf_counter() - started
    report["peak_rss_mb"] = peak_rss_mb()
    index.close()
    return report


def worker_threatexchange(folder: Path, size: int, queries_limit: int) -> dict[str, Any]:
    """threatexchange's PDQ index (``PdqSignal.get_index_cls()``: faiss multi-hash), on the same data."""
    from threatexchange.signal_type.pdq.signal import PdqSignal

    index_class = PdqSignal.get_index_cls()
    bank = np.load(folder / "bank.npy", mmap_mode="r")[:size]
    entries = [(row.tobytes().hex(), position) for position, row in enumerate(bank)]
    del bank
    started = time.perf_counter()
    index = index_class(entries)
    build_seconds = time.perf_counter() - started
    del entries
    queries = [row.tobytes().hex() for row in np.load(folder / "queries.npy")[:queries_limit]]
    started = time.perf_counter()
    single = [index.query(value) for value in queries]
    single_qps = len(queries) / (time.perf_counter() - started)
    started = time.perf_counter()
    batch = index.index.search_with_distance_in_result(queries, THRESHOLD)
    batch_qps = len(queries) / (time.perf_counter() - started)
    report: dict[str, Any] = {
        "class": f"{index_class.__module__}.{index_class.__qualname__}",
        "size": size,
        "build_seconds": build_seconds,
        "qps_query_api": single_qps,
        "qps_batch_api": batch_qps,
        "queries": len(queries),
        "matches": sum(len(found) for found in single),
        "batch_matches": sum(len(found) for found in batch.values()),
        "peak_rss_mb": peak_rss_mb(),
    }
    if size == len(np.load(folder / "bank.npy", mmap_mode="r")):
        recall_queries = [row.tobytes().hex() for row in np.load(folder / "recall_queries.npy")]
        answers = index.index.search_with_distance_in_result(recall_queries, THRESHOLD)
        found = {
            (position, int(entry), int(distance))
            for position, value in enumerate(recall_queries)
            for entry, _, distance in answers[value]
        }
        report |= recall_of(found, folder)
    return report


def run_worker(kind: str, folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--worker",
        kind,
        "--data",
        str(folder),
        "--threads",
        str(args.threads),
        "--adds",
        str(args.adds),
        "--te-size",
        str(args.te_size),
        "--te-queries",
        str(args.te_queries),
    ]
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        return {"failed": f"exit {finished.returncode}", "stderr": finished.stderr[-2000:]}
    result: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=10_000_000, help="bank hashes (default: the issue's 10 million)")
    parser.add_argument("--queries", type=int, default=20_000, help="lookups timed, half near-duplicates")
    parser.add_argument("--recall-queries", type=int, default=2_000, help="lookups checked against brute force")
    parser.add_argument("--adds", type=int, default=100_000, help="hashes added one at a time after the build")
    parser.add_argument("--threads", type=int, default=2, help="search threads (the target is for 2 cores)")
    parser.add_argument("--te-size", type=int, default=0, help="bank size for threatexchange (default: the same)")
    parser.add_argument("--te-queries", type=int, default=1_000, help="lookups timed on threatexchange")
    parser.add_argument("--skip-threatexchange", action="store_true", help="do not measure threatexchange")
    parser.add_argument("--quick", action="store_true", help="1 million hashes and fewer queries")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic data")
    parser.add_argument("--worker", choices=["ours", "threatexchange"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        if args.worker == "ours":
            print(json.dumps(worker_ours(args.data, args.threads, args.adds)))
        else:
            print(json.dumps(worker_threatexchange(args.data, args.te_size, args.te_queries)))
        return
    if args.quick:
        args.size, args.queries, args.recall_queries, args.adds = 1_000_000, 10_000, 1_000, 20_000
    args.te_size = args.te_size or args.size
    print(
        f"PDQ benchmark: {args.size:,} hashes, threshold {THRESHOLD}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-pdq-") as temporary:
        folder = Path(temporary)
        generate(folder, args.size, args.queries, args.adds, args.seed)
        truth = brute_force(folder, args.recall_queries)
        print(
            f"brute force: {truth['queries']:,} queries, {truth['pairs']:,} pairs within {THRESHOLD} "
            f"({truth['at_threshold']} at exactly {THRESHOLD}), {truth['seconds']:.0f} s"
        )
        ours = run_worker("ours", folder, args)
        print("ours:", json.dumps(ours, indent=1))
        theirs: dict[str, Any] = {}
        if not args.skip_threatexchange:
            theirs = run_worker("threatexchange", folder, args)
            print("threatexchange:", json.dumps(theirs, indent=1))
    print_summary(args, ours, theirs)


def print_summary(args: argparse.Namespace, ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    print("\n== PDQ index, summary ==")
    if "failed" in ours:
        print("our index failed:", ours)
        return
    two = f"qps_{args.threads}_threads"
    cpu_us = ours["cpu_us_per_query_1_thread"]
    rows = [
        ("lookups/s, 1 thread", f"{ours['qps_1_thread']:,.0f}", f"got {ours['cores_used_1_thread']:.2f} cores"),
        (
            f"lookups/s, {args.threads} threads",
            f"{ours[two]:,.0f}",
            f"got {ours[f'cores_used_{args.threads}_threads']:.2f} cores; target >= 2,000 on 2 cores",
        ),
        (
            "CPU time per lookup",
            f"{cpu_us:,.0f} us",
            f"= {args.threads * 1e6 / cpu_us:,.0f} lookups/s on {args.threads} cores not shared with others",
        ),
        (
            "recall vs brute force",
            f"{ours['recall']:.4%} (missed {ours['missed']}, extra {ours['extra']})",
            "target 100%",
        ),
        ("peak memory", f"{ours['peak_rss_mb']:,.0f} MB", "target <= 1,536 MB"),
        ("build", f"{ours['build_seconds']:.1f} s", "target < 60 s"),
        ("incremental adds/s", f"{ours['adds_per_second']:,.0f} ({ours['adds']:,} single adds)", "target >= 10,000"),
    ]
    if theirs and "failed" not in theirs:
        rows += [
            (
                "threatexchange lookups/s",
                f"{theirs['qps_query_api']:,.1f} (query) / {theirs['qps_batch_api']:,.1f} (batch)",
                f"{theirs['size']:,} hashes",
            ),
            ("threatexchange build, memory", f"{theirs['build_seconds']:.1f} s, {theirs['peak_rss_mb']:,.0f} MB", ""),
            (
                "ratio ours/theirs, lookups/s",
                f"{ours[two] / theirs['qps_query_api']:,.1f}x vs query API, "
                f"{ours[two] / theirs['qps_batch_api']:,.1f}x vs batch API",
                "same data, same machine",
            ),
        ]
    elif theirs:
        rows.append(("threatexchange", theirs["failed"], theirs.get("stderr", "")[-300:]))
    for name, value, note in rows:
        print(f"{name:32} {value:48} {note}")


if __name__ == "__main__":
    main()
