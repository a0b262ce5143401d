"""Instructions per report of bulk intake in one process, counted by valgrind's callgrind: a figure that, unlike
seconds, does not move with the machine's other load, for comparing two versions of the bulk path.

    .venv/bin/python bench/instructions_bulk.py [--reports 5000]

Runs the program twice under ``valgrind --tool=callgrind`` (Debian's valgrind package): once importing the
reports, once doing everything else (generating the lines, opening the store, a small warm-up import) but that,
and prints the difference per report. Each run takes a minute or two. Not part of ``make bench``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def _import(reports: int, skip: bool) -> None:
    """The measured program: generate, warm up, then (unless ``skip``) import ``reports`` lines in one pass."""
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_bulk import make_lines
    from clearinghouse.access.service import create_platform
    from clearinghouse.db.engine import open_store
    from clearinghouse.tipline.bulk import import_lines
    from clearinghouse.tipline.onepass import Processing

    lines = make_lines(reports, 7)
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{Path(folder) / 'bench.db'}")
        with store.unit_of_work() as session:
            platform = create_platform(session=session, name="Bench Platform").account.id
        warm_up = make_lines(200, 99)  # lazy set-up (statement caches, the agency directory) is not counted
        import_lines(store, platform_id=platform, actor="bench", lines=enumerate(warm_up, 1), processing=Processing())
        if not skip:
            import_lines(store, platform_id=platform, actor="bench", lines=enumerate(lines, 1), processing=Processing())
        store.dispose()


def _count(reports: int, skip: bool) -> int:
    with tempfile.TemporaryDirectory() as folder:
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={Path(folder) / 'out'}",
            sys.executable,
            __file__,
            "--reports",
            str(reports),
            "--run",
            "skip" if skip else "import",
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"callgrind printed no count:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=5000, help="distinct reports imported (in one chunk)")
    parser.add_argument("--run", choices=("import", "skip"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run is not None:
        _import(args.reports, skip=args.run == "skip")
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    os.environ.setdefault("PYTHONHASHSEED", "0")  # the same dictionary layouts in both runs
    with_import, without = _count(args.reports, skip=False), _count(args.reports, skip=True)
    print(f"instructions per report: {(with_import - without) / args.reports:,.0f}  ({args.reports:,} reports)")


if __name__ == "__main__":
    main()
