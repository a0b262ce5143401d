"""A manifest of hundreds of thousands of files is submitted in bounded memory: the real command, in a process of
its own, whose peak resident memory is read back."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from clearinghouse.db.engine import Store
from clearinghouse.geo.models import AgencyKind

AgencyId = Callable[[str, AgencyKind], int]
ROWS = 350_000
"""Files of the manifest: about 50 MB of CSV (MD5, SHA-1 and SHA-256 a file)."""
BOUND_MB = 400
"""Peak memory allowed. Read whole, as before, 50 MB of manifest took about 900 MB (3.6 GB for 200 MB)."""

# Runs the command as its own child and prints the child's peak resident memory in kilobytes (Linux's unit), so
# that no other process the tests started counts.
_MEASURE = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "sys.stderr.write(done.stderr)\n"
    "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def _manifest(path: Path) -> int:
    """Write the manifest, its one bad record near the end; the line of that record."""
    bad = ROWS - 100
    with path.open("w", encoding="utf-8") as out:
        out.write("md5,sha1,sha256\n")
        for n in range(ROWS):
            out.write(f"{'z' if n == bad else '0'}{n:031x},{n:040x},{n:064x}\n")
    return bad + 2


@pytest.mark.slow
def test_a_large_manifest_is_refused_by_line_in_bounded_memory(
    seeded: Store, agency_id: AgencyId, tmp_path: Path
) -> None:
    path = tmp_path / "case.csv"
    line = _manifest(path)
    assert path.stat().st_size > 45 * 2**20
    agency = agency_id("WA", AgencyKind.ICAC_TASK_FORCE)
    clearinghouse = Path(sys.executable).with_name("clearinghouse")  # the command as installed beside Python
    command = [str(clearinghouse), "vid", "submit", str(path), "--agency", str(agency), "--case", "C-LARGE"]
    measured = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command, "--url", seeded.url],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    code, peak_kb = (int(word) for word in measured.stdout.split())
    assert code == 2, measured.stderr
    assert measured.stderr.splitlines() == [
        f"{path}: line {line}: md5: expected 32 hexadecimal digits (given: 'z{line - 2:031x}')",
        f"error: {path}: 1 bad record(s); nothing was stored",
    ]
    assert peak_kb < BOUND_MB * 1024, f"peak {peak_kb // 1024} MB"
