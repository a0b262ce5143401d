"""Snapshots of the matcher's indexes on disk: a JSON header and plain NumPy arrays, never pickle.

Layout of a snapshot directory (format ``clearinghouse-matcher-snapshot``, version 1; docs/matching.md):

    header.json                      format, version, time written, caller metadata, and for each index
                                     the parameters and the list of its parts with their sizes
    pdq/segment-NNN.<array>.npy      codes (n, 4) <u8, ids (n,) <i8, alive (n,) |b1, and for indexed
                                     segments offsets (<u4) and slots (<u4)
    exact-<type>/run-NNN.<array>.npy keys (n,) <u8, ids (n,) <i8, alive (n,) |b1, offsets (<u4)

Arrays are written with ``numpy.save(allow_pickle=False)`` and read with ``allow_pickle=False``; every array's
dtype and shape is checked against the header before use. Large arrays are memory-mapped read-only, so
several worker processes reading the same snapshot share one copy in the page cache; liveness flags are
copied, because each process records its own removals. A snapshot is written to a temporary directory and
renamed into place, so a reader never sees half of one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from clearinghouse.hashing.exact_index import ExactIndex, SortedRun
from clearinghouse.hashing.pdq_index import PdqIndex
from clearinghouse.hashing.pdq_segment import WORDS, ChunkPlan, Segment

FORMAT = "clearinghouse-matcher-snapshot"
VERSION = 1


class SnapshotError(ValueError):
    """A snapshot that cannot be read: which file, and what is wrong with it."""


@dataclass
class Snapshot:
    """What a snapshot holds: the perceptual index, the exact indexes by hash type, and caller metadata."""

    pdq: PdqIndex
    exact: dict[str, ExactIndex]
    metadata: dict[str, Any] = field(default_factory=dict)


def save(directory: Path, snapshot: Snapshot) -> None:
    """Write ``snapshot`` to ``directory``, replacing any snapshot there in one rename.

    Only an earlier snapshot is replaced: a file, or a folder that holds anything but a snapshot, is refused
    (SnapshotError) and left as it was, so a slip of the path never deletes someone's files.
    """
    directory = Path(directory)
    _refuse_unless_replaceable(directory)
    staging = directory.with_name(f"{directory.name}.writing-{os.getpid()}")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    header: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "written_at": dt.datetime.now(dt.UTC).isoformat(),
        "metadata": snapshot.metadata,
        "pdq": _save_pdq(staging / "pdq", snapshot.pdq),
        "exact": {name: _save_exact(staging / f"exact-{name}", index) for name, index in snapshot.exact.items()},
    }
    (staging / "header.json").write_text(json.dumps(header, indent=1), encoding="utf-8")
    retired = directory.with_name(f"{directory.name}.retired-{os.getpid()}")
    if directory.exists():
        directory.rename(retired)
    staging.rename(directory)
    if retired.exists():
        shutil.rmtree(retired)


def _refuse_unless_replaceable(directory: Path) -> None:
    """Nothing there, an empty folder, or a snapshot of ours; else SnapshotError."""
    if not directory.exists() and not directory.is_symlink():
        return
    if not directory.is_dir() or directory.is_symlink():
        raise SnapshotError(f"{directory}: is not a folder; give a new folder or an earlier snapshot to replace")
    if not any(directory.iterdir()):
        return
    try:
        header = json.loads((directory / "header.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise SnapshotError(
            f"{directory}: holds files that are not a snapshot; they are left alone (give a new or empty folder)"
        )


def load(directory: Path, *, mmap: bool = True, workers: int = 2) -> Snapshot:
    """Read a snapshot; with ``mmap`` the large arrays stay on disk, mapped read-only and shared."""
    directory = Path(directory)
    header_path = directory / "header.json"
    try:
        header = json.loads(header_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise SnapshotError(f"{header_path}: cannot read the header ({error})") from error
    if header.get("format") != FORMAT:
        raise SnapshotError(f"{header_path}: format is {header.get('format')!r}, expected {FORMAT!r}")
    if header.get("version") != VERSION:
        raise SnapshotError(f"{header_path}: version {header.get('version')!r} is not readable (expected {VERSION})")
    reader = _Reader(mmap=mmap)
    pdq = _load_pdq(directory / "pdq", header["pdq"], reader, workers)
    exact = {name: _load_exact(directory / f"exact-{name}", part, reader) for name, part in header["exact"].items()}
    return Snapshot(pdq=pdq, exact=exact, metadata=dict(header.get("metadata") or {}))


def _save_pdq(folder: Path, index: PdqIndex) -> dict[str, Any]:
    folder.mkdir()
    segments = index.segments
    codes, ids, alive = index.tail_entries()
    if len(ids):
        empty = np.empty(0, dtype=np.uint32)
        segments.append(Segment(codes.copy(), ids.copy(), alive.copy(), None, empty, empty, False))
    described = []
    for number, segment in enumerate(segments):
        name = f"segment-{number:03d}"
        arrays = {"codes": segment.codes, "ids": segment.ids, "alive": segment.alive}
        if segment.plan is not None:
            arrays |= {"offsets": segment.offsets, "slots": segment.slots}
        for array_name, array in arrays.items():
            np.save(folder / f"{name}.{array_name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        plan = None if segment.plan is None else {"width": segment.plan.width, "radii": list(segment.plan.radii)}
        described.append({"name": name, "size": len(segment), "plan": plan, "ids_sorted": segment.ids_sorted})
    return {"threshold": index.threshold, "bit_order": index.bit_order.tolist(), "segments": described}


def _save_exact(folder: Path, index: ExactIndex) -> dict[str, Any]:
    folder.mkdir()
    runs = index.runs
    keys, ids = index.recent_entries()
    if len(keys):
        runs.append(SortedRun.build(keys, ids))
    described = []
    for number, run in enumerate(runs):
        name = f"run-{number:03d}"
        for array_name, array in {"keys": run.keys, "ids": run.ids, "alive": run.alive, "offsets": run.offsets}.items():
            np.save(folder / f"{name}.{array_name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        described.append({"name": name, "size": len(run), "shift": run.shift})
    return {"runs": described}


class _Reader:
    """Reads one array, checking it against what the header says it must be."""

    def __init__(self, *, mmap: bool) -> None:
        self.mmap = mmap

    def __call__(self, path: Path, dtype: str, shape: tuple[int, ...], *, writable: bool = False) -> npt.NDArray[Any]:
        try:
            if writable or not self.mmap:
                array = np.asarray(np.load(path, allow_pickle=False))
            else:
                array = np.asarray(np.load(path, mmap_mode="r", allow_pickle=False))
        except (OSError, ValueError) as error:
            raise SnapshotError(f"{path}: cannot read ({error})") from error
        if array.dtype != np.dtype(dtype) or array.shape != shape:
            raise SnapshotError(f"{path}: expected {dtype} {shape}, found {array.dtype.str} {array.shape}")
        return array


def _load_pdq(folder: Path, header: dict[str, Any], read: _Reader, workers: int) -> PdqIndex:
    index = PdqIndex(
        threshold=int(header["threshold"]), bit_order=np.array(header["bit_order"], dtype=np.int64), workers=workers
    )
    segments = []
    for part in header["segments"]:
        base, size = folder / part["name"], int(part["size"])
        plan = None if part["plan"] is None else ChunkPlan(int(part["plan"]["width"]), tuple(part["plan"]["radii"]))
        codes = read(Path(f"{base}.codes.npy"), "<u8", (size, WORDS))
        ids = read(Path(f"{base}.ids.npy"), "<i8", (size,))
        alive = read(Path(f"{base}.alive.npy"), "|b1", (size,), writable=True)
        if plan is None:
            offsets = slots = np.empty(0, dtype=np.uint32)
        else:
            offsets = read(Path(f"{base}.offsets.npy"), "<u4", (plan.count * (2**plan.width + 1),))
            slots = read(Path(f"{base}.slots.npy"), "<u4", (plan.count * size,))
        segments.append(Segment(codes, ids, alive, plan, offsets, slots, bool(part["ids_sorted"])))
    index.load_segments(segments)
    return index


def _load_exact(folder: Path, header: dict[str, Any], read: _Reader) -> ExactIndex:
    runs = []
    for part in header["runs"]:
        base, size, shift = folder / part["name"], int(part["size"]), int(part["shift"])
        runs.append(
            SortedRun(
                keys=read(Path(f"{base}.keys.npy"), "<u8", (size,)),
                ids=read(Path(f"{base}.ids.npy"), "<i8", (size,)),
                alive=read(Path(f"{base}.alive.npy"), "|b1", (size,), writable=True),
                shift=shift,
                offsets=read(Path(f"{base}.offsets.npy"), "<u4", (2 ** (64 - shift) + 1,)),
            )
        )
    index = ExactIndex()
    index.load_runs(runs)
    return index
