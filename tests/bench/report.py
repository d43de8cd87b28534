"""Result tables (markdown): ours beside the relay's, with ratios; and py-spy summaries."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _lat(stats: dict[str, Any] | None) -> str:
    if not stats or not stats.get("n"):
        return "-"
    return " / ".join(_ms(stats.get(k)) for k in ("p50", "p95", "p99", "max"))


def _ratio(ours: float | None, base: float | None) -> str:
    if ours is None or base is None or base <= 0:
        return "-"
    return f"×{ours / base:.1f}"


def _lat_ratio(ours: dict[str, Any] | None, base: dict[str, Any] | None) -> str:
    if not ours or not base or not ours.get("n") or not base.get("n"):
        return "-"
    return " / ".join(_ratio(ours.get(k), base.get(k)) for k in ("p50", "p95", "p99", "max"))


def _mb(kb: int | None) -> str:
    return "-" if kb is None else f"{kb / 1024:.0f} MB"


def _rss(run: dict[str, Any], name: str) -> str:
    peak = run.get("rss_peak", {}).get(name)
    before = run.get("rss_before", {}).get(name)
    if peak is None:
        return "-"
    if before is None:
        return _mb(peak)
    return f"{_mb(peak)} (+{(peak - before) / 1024:.0f})"


# CPU per delivered message (tests/bench/cpu.py: per_message): what each total adds up.
CPU_PARTS = {"messenger": ("api", "worker", "postgres", "redis"), "relay": ("relay", "redis")}
CPU_LABELS = {"api": "API", "worker": "worker", "postgres": "PG", "redis": "Redis", "relay": "relay"}


def _cpu_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def cpu_total(run: dict[str, Any] | None) -> float | None:
    """CPU ms per delivered message of a run, all its processes together; None without one."""
    if not run:
        return None
    return ((run.get("cpu") or {}).get("ms_per_message") or {}).get("total")


def cpu_cell(run: dict[str, Any] | None, target: str) -> str:
    """`total (API a + worker b + PG c + Redis d)` in CPU ms per delivered message."""
    ms = ((run or {}).get("cpu") or {}).get("ms_per_message")
    if not ms:
        return "-"
    parts = " + ".join(f"{CPU_LABELS[k]} {_cpu_ms(ms.get(k))}" for k in CPU_PARTS[target])
    return f"{_cpu_ms(ms.get('total'))} ({parts})"


LOAD_KEYS = ("kind", "rate", "duration", "pairs", "idle", "sends", "members", "phases", "reconnect", "backlog")


def relay_beside(rows: list[dict[str, Any]], row: dict[str, Any]) -> dict[str, Any] | None:
    """The relay run to compare a row with: its own, else (scenarios 8 and 11: the second row
    runs only against Messenger Core) the relay run of an earlier row with the same load."""
    if row.get("relay") is not None:
        return row["relay"]
    load = tuple(row["scenario"].get(k) for k in LOAD_KEYS)
    for other in reversed(rows[: rows.index(row)] if row in rows else rows):
        if other.get("relay") is not None and tuple(other["scenario"].get(k) for k in LOAD_KEYS) == load:
            return other["relay"]
    return None


def cpu_ratio(ours: dict[str, Any] | None, relay: dict[str, Any] | None) -> str:
    o, b = cpu_total(ours), cpu_total(relay)
    return "-" if o is None or b is None or b <= 0 else f"×{o / b:.1f}"


def _result_or_error_row(lines: list[str], label: str, run: dict[str, Any] | None, empty_cells: int) -> dict[str, Any] | None:
    """A run's result to tabulate, or None: no run, or one that failed (its error row is appended)."""
    if run is None:
        return None
    r: dict[str, Any] = run["result"]
    if "error" in r:
        lines.append(f"| {label} | error: {r['error']} |" + " |" * empty_cells)
        return None
    return r


def rate_table(rows: list[dict[str, Any]]) -> str:
    header = (
        "| scenario | target | sent | acked | delivered | lost | dup | achieved rate (msg/s) | "
        "ack ms p50 / p95 / p99 / max | delivery ms p50 / p95 / p99 / max | server RSS peak (Δ MB) | worker RSS peak (Δ MB) | "
        "CPU ms per delivered msg: total (per process) |"
    )
    lines = [header, "|" + "---|" * 13]
    for row in rows:
        ours, relay = row.get("messenger"), row.get("relay")
        for target, run in (("messenger", ours), ("relay", relay)):
            r = _result_or_error_row(lines, f"{row['name']} | {target}", run, 10)
            if r is None:
                continue
            server_rss = _rss(run, "api" if target == "messenger" else "relay")
            worker_rss = _rss(run, "worker") if target == "messenger" else "n/a"
            lines.append(
                f"| {row['name']} | {target} | {r['sent']} | {r['acked']} | {r['delivered']} | {r['lost']} | {r['dup']} | "
                f"{r['achieved_rate']:.0f} (acked {r['acked_rate']:.0f}) | {_lat(r['ack_ms'])} | {_lat(r['delivery_ms'])} | "
                f"{server_rss} | {worker_rss} | {cpu_cell(run, target)} |"
            )
        if ours and relay and "error" not in ours["result"] and "error" not in relay["result"]:
            o, b = ours["result"], relay["result"]
            lines.append(
                f"| {row['name']} | ours ÷ relay | | | | | | {_ratio(o['acked_rate'], b['acked_rate'])} | "
                f"{_lat_ratio(o['ack_ms'], b['ack_ms'])} | {_lat_ratio(o['delivery_ms'], b['delivery_ms'])} | "
                f"{_ratio(ours.get('rss_peak', {}).get('api'), relay.get('rss_peak', {}).get('relay'))} | | "
                f"{cpu_ratio(ours, relay)} |"
            )
    return "\n".join(lines)


def cpu_table(rows: list[dict[str, Any]]) -> str:
    """CPU ms per delivered message, per process, for every row that has the figure; a row
    without its own relay run (scenario 8's and 11's second) is compared with the relay run of
    an earlier row with the same load (relay_beside)."""
    lines = ["| scenario | target | delivered | window (s) | API | worker | PG | Redis | relay | **total** | "
             "total ours ÷ relay | load generator (not in total) | PG, other databases (not in total) | "
             "machine busy (CPU s) |", "|" + "---|" * 14]
    for row, target, run in target_runs(rows):
        cpu = run.get("cpu") or {}
        ms = cpu.get("ms_per_message")
        if not ms:
            continue
        ratio = cpu_ratio(run, relay_beside(rows, row)) if target == "messenger" else ""
        def part(name: str, ms: dict[str, float] = ms, target: str = target) -> str:
            return _cpu_ms(ms.get(name)) if name in CPU_PARTS[target] else "n/a"

        other_pg = cpu.get("postgres_other_databases_s") or 0
        processes = row.get("api_processes") or 1
        extra = f" ({processes} API processes)" if processes > 1 and "API process" not in row["name"] else ""
        lines.append(
            f"| {row['name']}{extra} "
            f"| {target} | {cpu.get('delivered')} | {cpu.get('window_s')} | {part('api')} | {part('worker')} | "
            f"{part('postgres')} | {part('redis')} | {part('relay')} | **{_cpu_ms(ms.get('total'))}** | {ratio} | "
            f"{_cpu_ms(ms.get('loadgen'))} | {f'{other_pg:.1f} s' if other_pg else '0'} | "
            f"{cpu.get('machine_busy_s')} of {round(cpu.get('window_s', 0) * (os.cpu_count() or 1), 1)} |")
    lines.append("")
    lines.append(
        "CPU ms per delivered message: the CPU time (user + system, /proc/<pid>/stat utime + stime) each process used "
        "from the start of the load to the end of the drain (every delivery in, before the sockets close), ÷ the "
        "messages delivered (recipients' distinct messages; group: member deliveries; webhooks: events at the "
        "receivers). API: `messenger api` with its children (`--workers N`); worker: every `messenger worker`; PG: "
        "the postmaster, its background processes and the backends of the bench's database (other databases' "
        "backends on the same server apart, not counted); Redis: the redis-server of REDIS_URL (shared with anyone "
        "else using it). total: API + worker + PG + Redis for ours, relay + Redis for the relay; a ratio of two "
        "CPU costs on the same machine, it does not move with the machine's speed of the day (its load does move "
        "it a little: a busy machine costs more cache misses and context switches). Machine busy: all cores' "
        "busy time in the window, of the cores × window available.")
    return "\n".join(lines)


def reconnect_table(rows: list[dict[str, Any]]) -> str:
    header = (
        "| scenario | devices × backlog | backlog sent / acked (fill s, msg/s) | reconnected | complete | within 5 s | "
        "within 10 s | connect ms p50 / p99 / max | all-received ms p50 / p99 / max | lost | dup | closed 4008 (other codes); resumes | "
        "API RSS peak (Δ MB) | worker RSS peak (Δ MB) |"
    )
    lines = [header, "|" + "---|" * 14]
    for row in rows:
        run = row.get("messenger")
        r = _result_or_error_row(lines, row["name"], run, 12)
        if r is None:
            continue

        def three(stats: dict[str, Any]) -> str:
            return "-" if not stats.get("n") else " / ".join(_ms(stats.get(k)) for k in ("p50", "p99", "max"))

        lines.append(
            f"| {row['name']} | {r['devices']} × {r['backlog']} | {r['sent']} / {r['acked']} "
            f"({r['backlog_fill_s']} s, {r['backlog_rate']:.0f}/s) | {r['reconnected']} | {r['complete']} | "
            f"{r.get('within_5s', '-')} | {r['within_10s']} | {three(r['connect_ms'])} | {three(r['complete_ms'])} | "
            f"{r['lost']} | {r['dup']} | {_storm_closes(r)} | {_rss(run, 'api')} | {_rss(run, 'worker')} |"
        )
    lines.append("")
    lines.append("The relay keeps no backlog (no storage), so it has no reconnect figures.")
    return "\n".join(lines)


def _storm_closes(r: dict[str, Any]) -> str:
    closes = dict(r.get("storm_closes") or {})
    c4008 = closes.pop("4008", 0)
    text = f"{c4008}" + (f" ({', '.join(f'{k}: {v}' for k, v in sorted(closes.items()))})" if closes else "")
    return text + (f"; resumed {r['resumes']}×" if r.get("resumes") else "")


def target_runs(rows: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], str, dict[str, Any]]]:
    """(row, target, run) for every target that ran each scenario, ours before the relay's."""
    for row in rows:
        for target in ("messenger", "relay"):
            run = row.get(target)
            if run is not None:
                yield row, target, run


def details(rows: list[dict[str, Any]]) -> str:
    """Everything else the runs recorded, per scenario and target."""
    out: list[str] = []
    skip = {"ack_ms", "delivery_ms", "connect_ms", "complete_ms", "backlog_ack_ms", "age_at_receipt_ms", "commit_ms"}
    for row, target, run in target_runs(rows):
        r = run["result"]
        out.append(f"### {row['name']} / {target}")
        out.append("")
        for key, value in r.items():
            if key in skip:
                value = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in value.items()}
            out.append(f"- {key}: {value}")
        if run.get("quiesce_wait_s"):
            out.append(f"- waited for the API and worker to go idle before the run: {run['quiesce_wait_s']} s")
        if any((run.get("listen_drops") or {}).values()):
            out.append(f"- TCP listen-queue overflows during the run (machine-wide): {run['listen_drops']}")
        if run.get("cpu_load_phase"):
            out.append(f"- CPU during the send phase (% of one core): {run['cpu_load_phase']}")
        if run.get("cpu"):
            out.append(f"- CPU seconds from the load to the end of the drain, and ms per delivered message: {run['cpu']}")
        for key in ("rss_before", "rss_peak", "rss_end"):
            if key in run:
                out.append(f"- {key} (kB): {run[key]}")
        if run.get("server_alive") is not None:
            out.append(f"- servers alive after the run: {run['server_alive']}")
        for name, lines in (run.get("log_lines") or {}).items():
            out.append(f"- {name} log: {len(lines)} new lines")
            for line in lines[:15]:
                out.append(f"    {line[:400]}")
        if run.get("metrics"):
            out.append("- metrics after the run:")
            for line in run["metrics"]:
                out.append(f"    {line}")
        if run.get("profile"):
            out.append(f"- py-spy: {run['profile']}")
        out.append("")
    return "\n".join(out)


def summarize_collapsed(path: Path, top: int = 10) -> dict[str, Any]:
    """py-spy `--format raw` (collapsed stacks) -> the hottest functions by own and total samples."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    app_line: Counter[str] = Counter()
    samples = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        try:
            count = int(count_text)
        except ValueError:
            continue
        frames = [f for f in stack.split(";") if f]
        if not frames:
            continue
        # The first frame is the thread name ("process 123:..."/"thread 0x..") in some versions.
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        samples += count
        own[_short(frames[-1])] += count
        # The deepest frame in our own code (app/, workers/), with its line: where the time goes
        # in our terms (a query, a Redis call, a send), whatever library does the work below.
        ours = [f for f in frames if _is_ours(f)]
        app_line[_short(ours[-1], keep_line=True) if ours else "(outside app/ and workers/: event loop, server, libraries)"] += count
        for name in {_short(f) for f in frames}:
            total[name] += count
    return {
        "samples": samples,
        "own": [(name, count, 100.0 * count / samples) for name, count in own.most_common(top)] if samples else [],
        "total": [(name, count, 100.0 * count / samples) for name, count in total.most_common(top * 3)] if samples else [],
        "app_line": [(name, count, 100.0 * count / samples) for name, count in app_line.most_common(top * 2)]
        if samples else [],
    }


# py-spy names files relative to their sys.path entry, and app/ is a package on it, so our
# frames look like `MessageService.send (services/messages.py:81)`.
_OUR_FILES = ("ws/", "services/", "storage/", "realtime/", "api/", "models/", "db.py", "jsonutil.py", "metrics.py",
              "server.py", "errors.py", "logs.py", "workers/", "app/")
_ENTRY_FUNCS = {"run_api", "run_worker", "main", "<module>", "_run"}


def _is_ours(frame: str) -> bool:
    name, _, where = frame.partition(" (")
    if name in _ENTRY_FUNCS or "site-packages" in where:
        return False
    return where.startswith(_OUR_FILES) or "/app/" in where or "/workers/" in where


def _short(frame: str, keep_line: bool = False) -> str:
    """`func (path/to/module.py:123)` -> `func (module.py)`: lines of one function merge."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    file, _, line = where.rpartition(":")
    if not file:
        file, line = where, ""
    parts = file.split("/")
    if "site-packages" in parts:
        parts = parts[parts.index("site-packages") + 1:]
    elif "app" in parts or "workers" in parts:
        idx = max(i for i, p in enumerate(parts) if p in ("app", "workers"))
        parts = parts[idx:]
    else:
        parts = parts[-2:]
    return f"{name} ({'/'.join(parts)}{':' + line if keep_line and line else ''})"


def profile_section(profiles: dict[str, dict[str, Any]]) -> str:
    out: list[str] = []
    for name, summary in profiles.items():
        out.append(f"### py-spy: {name} ({summary['samples']} samples while not idle)")
        out.append("")
        out.append("| # | own % | function (self time) |")
        out.append("|---|---|---|")
        for i, (fn, _count, pct) in enumerate(summary["own"], 1):
            out.append(f"| {i} | {pct:.1f} | `{fn}` |")
        out.append("")
        if summary.get("app_line"):
            out.append("| % | deepest frame in app/ or workers/ (function and line) |")
            out.append("|---|---|")
            for fn, _count, pct in summary["app_line"]:
                out.append(f"| {pct:.1f} | `{fn}` |")
            out.append("")
        out.append("| total % | function (inclusive, top 30) |")
        out.append("|---|---|")
        for fn, _count, pct in summary["total"]:
            out.append(f"| {pct:.1f} | `{fn}` |")
        out.append("")
    return "\n".join(out)
