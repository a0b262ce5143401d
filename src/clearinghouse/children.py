"""Child processes that must not outlive the process that started them (the pipeline beside the server, the
server's worker processes)."""

from __future__ import annotations

import ctypes
import signal
import sys

PR_SET_PDEATHSIG = 1
"""Linux ``prctl`` option: the signal this process gets when its parent dies."""


def die_with_parent(signal_number: int = signal.SIGKILL) -> None:
    """Ask Linux to send this process `signal_number` when its parent dies, even by SIGKILL
    (``PR_SET_PDEATHSIG``); elsewhere, nothing (callers also check ``os.getppid``)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal_number)
    except (OSError, AttributeError):
        return
