"""What the bench measures of processes and of the machine, from /proc: CPU per process and
machine-wide (% of a core, CpuMeter; CPU seconds per process tree for the per-message figures,
CpuTally), peak RSS sampled in a thread, and the kernel's listen-queue drops."""

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

    def _ticks(self) -> dict[str, int]:
        """Each name's ticks: a server's with its children (`messenger api --workers N`), each
        postgres process's own."""
        table = proc_table()
        out: dict[str, int] = {}
        for name, pid in self.pids.items():
            if pid not in table:
                continue
            pids = {pid} if name.startswith("postgres#") else descendants(pid, table)
            out[name] = sum(table[p][2] for p in pids if p in table)
        return out

    def start(self) -> CpuMeter:
        self.start_ticks = self._ticks()
        self.start_sys = system_ticks()
        self.started = time.monotonic()
        return self

    def stop(self) -> dict[str, float]:
        """% of one core per process over the window; 'postgres' sums every postgres process;
        'machine' is the whole machine's busy % of all cores; 'other' what no process of ours used."""
        wall = max(1e-6, time.monotonic() - self.started)
        out: dict[str, float] = {}
        ticks = self._ticks()
        for name in self.pids:
            now = ticks.get(name)
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

    def __init__(self, pids: dict[str, int | list[int]], interval: float = 0.25) -> None:
        self.pids = pids  # a list: the processes of one server (`messenger api --workers N`), summed
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
                values = [rss_kb(p) for p in (pid if isinstance(pid, list) else [pid])]
                if values[0] is None:
                    continue
                value = sum(v for v in values if v is not None)
                self.last[name] = value
                self.peak[name] = max(self.peak.get(name, 0), value)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def set_pids(self, pids: dict[str, int | list[int]]) -> None:
        """Follow another set of processes (workers added or stopped, the API restarted)."""
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


# --- CPU seconds per process tree, for "CPU ms per delivered message" ----------------------


def proc_table() -> dict[int, tuple[str, int, int]]:
    """Every process on the machine: pid -> (comm, ppid, utime + stime ticks), from /proc."""
    table: dict[int, tuple[str, int, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                text = f.read()
            head, _, tail = text.rpartition(")")
            fields = tail.split()
            table[int(entry)] = (head.split("(", 1)[1], int(fields[1]), int(fields[11]) + int(fields[12]))
        except (OSError, IndexError, ValueError):
            continue
    return table


def descendants(root: int, table: dict[int, tuple[str, int, int]]) -> set[int]:
    """`root` and every process below it (`messenger api --workers N`: the supervisor and its children)."""
    children: dict[int, list[int]] = {}
    for pid, (_comm, ppid, _ticks) in table.items():
        children.setdefault(ppid, []).append(pid)
    out: set[int] = set()
    todo = [root] if root in table else []
    while todo:
        pid = todo.pop()
        if pid not in out:
            out.add(pid)
            todo.extend(children.get(pid, ()))
    return out


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def postmaster_of(data_dir: str | None) -> int | None:
    """The postmaster's pid: the first line of <data_dir>/postmaster.pid, else the one postgres
    process whose parent is not a postgres process (None when there are several or none)."""
    if data_dir:
        try:
            with open(os.path.join(data_dir, "postmaster.pid")) as f:
                return int(f.readline().strip())
        except (OSError, ValueError):
            pass
    table = proc_table()
    roots = [p for p, (comm, ppid, _t) in table.items() if comm == "postgres" and table.get(ppid, ("",))[0] != "postgres"]
    if data_dir:
        by_dir = [p for p in roots if data_dir in cmdline(p)]
        if len(by_dir) == 1:
            return by_dir[0]
    return roots[0] if len(roots) == 1 else None


class CpuTally:
    """CPU seconds (user + system) that each role's processes used between start() and stop().

    roles: name -> root pids, each counted with every descendant (the tree is read again at
    stop(), so children started during the window count from their birth). `postgres`: the
    postmaster's children serving `db_name` (their process title names the database) plus the
    postmaster and its background processes (WAL writer, checkpointer, ...); backends of other
    databases on the same server are reported apart, as `postgres_other_databases`, and not
    counted. A process that both starts and exits inside the window is missed (the bench's pools
    keep their connections for the whole run)."""

    BACKGROUND = ("checkpointer", "background writer", "walwriter", "autovacuum launcher", "logical replication",
                  "stats collector", "archiver", "wal writer", "startup", "io worker")

    def __init__(self, roles: dict[str, list[int]], postmaster: int | None = None, db_name: str = "") -> None:
        self.roles = {k: [p for p in v if p] for k, v in roles.items()}
        self.postmaster = postmaster
        self.db_name = db_name
        self.hz = os.sysconf("SC_CLK_TCK")
        self.start_table: dict[int, tuple[str, int, int]] = {}
        self.start_sys = (0, 0)
        self.started = 0.0

    def _postgres(self, table: dict[int, tuple[str, int, int]]) -> tuple[set[int], set[int]]:
        """(ours: the postmaster, its background processes, the bench database's backends; the
        other databases' backends). Without a known postmaster: every process named postgres."""
        if self.postmaster is None or self.postmaster not in table:
            return {p for p, (comm, _pp, _t) in table.items() if comm == "postgres"}, set()
        ours, other = {self.postmaster}, set()
        for pid in descendants(self.postmaster, table) - {self.postmaster}:
            title = cmdline(pid)
            mine = not self.db_name or f" {self.db_name} " in f" {title} "
            (ours if mine or any(b in title for b in self.BACKGROUND) else other).add(pid)
        return ours, other

    def _ticks(self, pids: set[int], now: dict[int, tuple[str, int, int]]) -> int:
        return sum(now[p][2] - (self.start_table[p][2] if p in self.start_table else 0) for p in pids if p in now)

    def start(self) -> CpuTally:
        self.start_table = proc_table()
        self.start_sys = system_ticks()
        self.started = time.monotonic()
        return self

    def stop(self) -> dict[str, object]:
        wall = time.monotonic() - self.started
        now = proc_table()
        busy, _total = system_ticks()
        cpu: dict[str, float] = {}
        for name, roots in self.roles.items():
            pids: set[int] = set()
            for root in roots:
                pids |= descendants(root, now)
            cpu[name] = self._ticks(pids, now) / self.hz
        pg_ours, pg_other = self._postgres(now)
        cpu["postgres"] = self._ticks(pg_ours, now) / self.hz
        return {
            "window_s": round(wall, 2),
            "cpu_s": {k: round(v, 3) for k, v in cpu.items()},
            "postgres_other_databases_s": round(self._ticks(pg_other, now) / self.hz, 3),
            "postgres_processes": len(pg_ours),
            "machine_busy_s": round((busy - self.start_sys[0]) / self.hz, 2),
        }
