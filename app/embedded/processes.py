"""What both embedded servers share: their error, time limits, and how a child process is
started (dying with us) and stopped (politely, then by signal)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


class EmbeddedError(RuntimeError):
    """An embedded server could not be started or stopped."""


def wait_or_kill(proc: Any, *, first: signal.Signals, timeout: float = STOP_TIMEOUT) -> None:
    import psutil  # noqa: PLC0415

    for sig, wait in ((None, timeout), (first, 10.0), (signal.SIGKILL, 10.0)):
        try:
            if sig is not None:
                proc.send_signal(sig)
            proc.wait(wait)
            return
        except psutil.NoSuchProcess:
            return
        except psutil.TimeoutExpired:
            continue
    raise EmbeddedError(f"process {proc.pid} did not exit")


def child_preexec() -> Any:
    """preexec_fn that makes a child get SIGTERM when we die (Linux PR_SET_PDEATHSIG).

    None when unavailable or unsafe: the signal fires when the parent *thread* exits, so it
    is only used from the main thread. libc is resolved here, in the parent, so the child
    runs no Python import between fork and exec.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        import ctypes  # noqa: PLC0415

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux / no libc symbol: no parent-death signal
        return None
    sigterm = int(signal.SIGTERM)

    def set_parent_death_signal() -> None:
        prctl(1, sigterm, 0, 0, 0)  # PR_SET_PDEATHSIG

    return set_parent_death_signal


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
