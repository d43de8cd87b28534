"""What the bench measures of processes and of the machine, from /proc: CPU per process and
machine-wide, peak RSS sampled in a thread, and the kernel's listen-queue drops."""

from __future__ import annotations

import os
import threading
import time


def rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_ticks(pid: int) -> int | None:
    """utime + stime of a process, in clock ticks."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


def pids_named(name: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == name:
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def listen_drops() -> dict[str, int]:
    """Machine-wide TcpExt ListenOverflows/ListenDrops: connections refused because a listen
    backlog (accept queue) was full; clients then retry their SYN after 1, 3, 7, 15 s ..."""
    try:
        with open("/proc/net/netstat") as f:
            lines = [line.split() for line in f if line.startswith("TcpExt:")]
        names, values = lines[0], lines[1]
        table = dict(zip(names[1:], (int(v) for v in values[1:])))
        return {k: table.get(k, 0) for k in ("ListenOverflows", "ListenDrops")}
    except (OSError, IndexError, ValueError):
        return {}


def system_ticks() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU used by some processes (and the whole machine) between start() and stop()."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = dict(pids)
        self.pids.update({f"postgres#{p}": p for p in pids_named("postgres")})
        self.hz = os.sysconf("SC_CLK_TCK")
        self.start_ticks: dict[str, int] = {}
        self.start_sys = (0, 0)
        self.started = 0.0

    def start(self) -> CpuMeter:
        self.start_ticks = {n: t for n, p in self.pids.items() if (t := cpu_ticks(p)) is not None}
        self.start_sys = system_ticks()
        self.started = time.monotonic()
        return self

    def stop(self) -> dict[str, float]:
        """% of one core per process over the window; 'postgres' sums every postgres process;
        'machine' is the whole machine's busy % of all cores; 'other' what no process of ours used."""
        wall = max(1e-6, time.monotonic() - self.started)
        out: dict[str, float] = {}
        for name, pid in self.pids.items():
            now = cpu_ticks(pid)
            if now is None or name not in self.start_ticks:
                continue
            pct = 100.0 * (now - self.start_ticks[name]) / self.hz / wall
            key = "postgres" if name.startswith("postgres#") else name
            out[key] = out.get(key, 0.0) + pct
        busy, total = system_ticks()
        ncpu = os.cpu_count() or 1
        machine = 100.0 * (busy - self.start_sys[0]) / max(1, total - self.start_sys[1])
        out = {k: round(v, 1) for k, v in out.items()}
        out["machine (% of all cores)"] = round(machine, 1)
        out["other (% of one core)"] = round(max(0.0, machine * ncpu - sum(v for k, v in out.items()
                                                                          if not k.startswith("machine"))), 1)
        return out


class RssSampler:
    """Samples VmRSS of some pids every `interval` seconds in a thread; peak since reset()."""

    def __init__(self, pids: dict[str, int], interval: float = 0.25) -> None:
        self.pids = pids
        self.interval = interval
        self.peak: dict[str, int] = {}
        self.last: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> RssSampler:
        self._sample()
        self._thread.start()
        return self

    def _sample(self) -> None:
        with self._lock:
            for name, pid in self.pids.items():
                value = rss_kb(pid)
                if value is None:
                    continue
                self.last[name] = value
                self.peak[name] = max(self.peak.get(name, 0), value)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def set_pids(self, pids: dict[str, int]) -> None:
        """Follow another set of processes (workers added or stopped)."""
        with self._lock:
            self.pids = dict(pids)
            self.last = {k: v for k, v in self.last.items() if k in pids}

    def reset(self) -> dict[str, int]:
        """Start a new peak window; returns the current values (the baseline)."""
        with self._lock:
            self.peak = {}
        self._sample()
        return dict(self.last)

    def snapshot(self) -> tuple[dict[str, int], dict[str, int]]:
        self._sample()
        with self._lock:
            return dict(self.peak), dict(self.last)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
