"""Result tables (markdown): ours beside the relay's, with ratios; and py-spy summaries."""

from __future__ import annotations

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
        "ack ms p50 / p95 / p99 / max | delivery ms p50 / p95 / p99 / max | server RSS peak (Δ MB) | worker RSS peak (Δ MB) |"
    )
    lines = [header, "|" + "---|" * 12]
    for row in rows:
        ours, relay = row.get("messenger"), row.get("relay")
        for target, run in (("messenger", ours), ("relay", relay)):
            r = _result_or_error_row(lines, f"{row['name']} | {target}", run, 9)
            if r is None:
                continue
            server_rss = _rss(run, "api" if target == "messenger" else "relay")
            worker_rss = _rss(run, "worker") if target == "messenger" else "n/a"
            lines.append(
                f"| {row['name']} | {target} | {r['sent']} | {r['acked']} | {r['delivered']} | {r['lost']} | {r['dup']} | "
                f"{r['achieved_rate']:.0f} (acked {r['acked_rate']:.0f}) | {_lat(r['ack_ms'])} | {_lat(r['delivery_ms'])} | "
                f"{server_rss} | {worker_rss} |"
            )
        if ours and relay and "error" not in ours["result"] and "error" not in relay["result"]:
            o, b = ours["result"], relay["result"]
            lines.append(
                f"| {row['name']} | ours ÷ relay | | | | | | {_ratio(o['acked_rate'], b['acked_rate'])} | "
                f"{_lat_ratio(o['ack_ms'], b['ack_ms'])} | {_lat_ratio(o['delivery_ms'], b['delivery_ms'])} | "
                f"{_ratio(ours.get('rss_peak', {}).get('api'), relay.get('rss_peak', {}).get('relay'))} | |"
            )
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
