"""The Targets table of issue 13 (one row per scenario: ours, the relay's from the same run,
and whether the target is met), plus the tables of the sequential and the group scenarios."""

from __future__ import annotations

from typing import Any

from tests.bench.report import _cpu_ms, _lat, _ms, _rss, cpu_ratio, cpu_total, relay_beside, target_runs

GIB_KB = 1024 * 1024

TARGETS = {
    "seq": "delivery p50 ≤ 3 ms",
    "rate500": "delivery p50 ≤ 5 ms, p99 ≤ 25 ms, 0 lost",
    "chat300": "delivery p99 ≤ 50 ms",
    "rate1500": "acked ≥ 1,450/s sustained, p99 ≤ 100 ms, 0 lost",
    "group": "all connected within 10 s; every member gets every message; p99 no worse than the relay's",
    "storm": "all complete within 5 s (no prompt reader closed with 4008)",
    "idle": "API RSS ≤ 1 GiB, p99 ≤ 25 ms",
    "workers": "the throughput of each (README: why they differ)",
    "apis": "the throughput and CPU per message of 1 and of 2 API processes (`messenger api --workers 2`)",
    "rate": "(a smoke or custom run: no target at this load)",
    "webhooks": "issue 29: events/s at the webhooks beside the relay's msg/s; 0 lost, no gap or duplicate inbox_seq",
}


def _p(stats: dict[str, Any] | None, key: str) -> float | None:
    return (stats or {}).get(key) if (stats or {}).get("n") else None


def _closes(r: dict[str, Any]) -> str:
    c4008 = (r.get("closes") or {}).get("4008", 0)
    return f"; closed 4008: {c4008}" if c4008 else ""


def cell(row: dict[str, Any], target: str) -> str:
    run = row.get(target)
    if row.get("skipped"):
        return f"skipped: {row['skipped']}" if target == "messenger" else "-"
    if run is None:
        return "n/a" if target == "relay" and row["scenario"]["kind"] == "reconnect" else "-"
    r = run["result"]
    if "error" in r:
        return f"error: {r['error'][:120]}"
    kind = row["scenario"]["kind"]
    if kind == "sequential":
        d = r["delivery_ms"]
        return f"p50 {_ms(_p(d, 'p50'))} / p90 {_ms(_p(d, 'p90'))} / p99 {_ms(_p(d, 'p99'))} ms (n={d['n']}); lost {r['lost']}"
    if kind == "rate":
        d = r["delivery_ms"]
        text = (f"acked {r['acked_rate']:.0f}/s (sent {r['achieved_rate']:.0f}/s); p50 {_ms(_p(d, 'p50'))}, "
                f"p99 {_ms(_p(d, 'p99'))} ms; lost {r['lost']}")
        if r["lost"] and r.get("lost_after_reconnect") is not None:
            text += f" ({r['lost_after_reconnect']} still missing after a reconnect)"
        text += f", dup {r['dup']}"
        if r.get("unacked"):
            text += f", unacked {r['unacked']}"
        if row["scenario"].get("goal") == "workers" and target == "messenger":
            cpu = run.get("cpu_load_phase") or {}
            text += "; worker CPU " + " + ".join(f"{v:.0f} %" for k, v in cpu.items() if k.startswith("worker"))
        if row["scenario"].get("goal") == "apis" and target == "messenger":
            cpu = run.get("cpu_load_phase") or {}
            text += (f"; {row.get('api_processes', 1)} API process(es), API CPU {cpu.get('api', 0):.0f} %, "
                     f"worker {cpu.get('worker', 0):.0f} %, PG {cpu.get('postgres', 0):.0f} %")
        if row["scenario"].get("idle"):
            text += f"; {'API' if target == 'messenger' else 'relay'} RSS {_rss(run, 'api' if target == 'messenger' else 'relay')}"
        return text + _closes(r)
    if kind == "group":
        parts = [f"{r['connected']}/{r['members']} connected in {r['connect_all_s']} s"]
        for ph in r["phases"]:
            d = ph["delivery_ms"]
            unacked = f" (sent {ph['sent']}, acked {ph['acked']})" if ph["acked"] != ph["sent"] else ""
            parts.append(f"{ph['rate']:g}/s: {ph['received']}/{ph['expected']}{unacked}, lost {ph['lost']}, "
                         f"p50 {_ms(_p(d, 'p50'))} / p99 {_ms(_p(d, 'p99'))} ms")
        return ("; ".join(parts) + (f"; dup {r['dup']}" if r["dup"] else "") + _closes(r)
                + (f" ({r['resumes']} resumes)" if r.get("resumes") else ""))
    if kind == "webhooks":
        d = r["delivery_ms"]
        lat = f"send → {'receiver' if target == 'messenger' else 'recipient'} p50 {_ms(_p(d, 'p50'))}, p99 {_ms(_p(d, 'p99'))} ms"
        if target == "relay":
            return (f"{r['events_per_s']:.0f} msg/s delivered over WebSocket to {r['pairs']} recipient(s) "
                    f"(sent {r['achieved_rate']:.0f}/s); {lat}; lost {r['lost']}, dup {r['dup']}")
        c = r["commit_ms"]
        return (f"{r['events_per_s']:.0f} events/s to {r['bots']} webhook(s) (sent {r['achieved_rate']:.0f}/s, "
                f"{r['events_per_post']:g} events per POST); {lat}; commit → receiver p50 {_ms(_p(c, 'p50'))}, "
                f"p99 {_ms(_p(c, 'p99'))} ms; lost {r['lost']}, dup {r['dup']}, gaps {r['gaps']}")
    if kind == "reconnect":
        c = r["complete_ms"]
        return (f"{r['complete']}/{r['devices']} complete, p50 {_s(_p(c, 'p50'))}, max {_s(_p(c, 'max'))}; "
                f"within 5 s: {r.get('within_5s', '-')}; closed 4008: {r.get('storm_closed_4008', '-')}"
                + (f" ({r['resumes']} resumes)" if r.get("resumes") else "") + f"; lost {r['lost']}")
    return "-"


def _s(ms: float | None) -> str:
    return "-" if ms is None else f"{ms / 1000:.1f} s"


def _check(failures: list[str], ok: bool, text: str) -> None:
    if not ok:
        failures.append(text)


def verdict(row: dict[str, Any]) -> str:
    goal = row["scenario"].get("goal") or ""
    run, relay = row.get("messenger"), row.get("relay")
    if row.get("skipped"):
        return "skipped"
    if run is None or "error" in run["result"]:
        return "no result"
    r, failures = run["result"], []
    d = r.get("delivery_ms") or {}
    p50, p99 = _p(d, "p50"), _p(d, "p99")
    if goal == "seq":
        _check(failures, p50 is not None and p50 <= 3, f"p50 {_ms(p50)} ms > 3")
    elif goal == "rate500":
        _check(failures, p50 is not None and p50 <= 5, f"p50 {_ms(p50)} ms > 5")
        _check(failures, p99 is not None and p99 <= 25, f"p99 {_ms(p99)} ms > 25")
    elif goal == "chat300":
        _check(failures, p99 is not None and p99 <= 50, f"p99 {_ms(p99)} ms > 50")
    elif goal == "rate1500":
        _check(failures, r["acked_rate"] >= 1450, f"acked {r['acked_rate']:.0f}/s < 1,450")
        _check(failures, p99 is not None and p99 <= 100, f"p99 {_ms(p99)} ms > 100")
    elif goal == "group":
        failures += _group_failures(r, relay["result"] if relay and "error" not in relay["result"] else None)
    elif goal == "storm":
        mx = _p(r["complete_ms"], "max")
        _check(failures, r["complete"] == r["devices"], f"{r['devices'] - r['complete']} never complete")
        _check(failures, mx is not None and mx <= 5000, f"max {_s(mx)} > 5 s")
        _check(failures, not r.get("storm_closed_4008"), f"{r.get('storm_closed_4008')} closed with 4008")
    elif goal == "idle":
        peak = (run.get("rss_peak") or {}).get("api")
        _check(failures, peak is not None and peak <= GIB_KB, f"API RSS {_rss(run, 'api')} > 1 GiB")
        _check(failures, p99 is not None and p99 <= 25, f"p99 {_ms(p99)} ms > 25")
    elif goal == "webhooks":
        _check(failures, r["lost"] == 0, f"lost {r['lost']}")
        _check(failures, r["received"] >= r["acked"], f"{r['acked'] - r['received']} acked messages never at the webhook")
        _check(failures, not r["gaps"], f"{r['gaps']} gaps in inbox_seq ({r['missing_seqs']} events)")
        _check(failures, not r["dup"], f"{r['dup']} duplicates")
        _check(failures, not r["receiver_problems"], f"receivers refused POSTs: {r['receiver_problems']}")
        _check(failures, not r["unacked"], f"{r['unacked']} sends never acked")
    else:
        return "-"
    if goal in ("rate500", "rate1500") or goal == "idle":
        _check(failures, r["lost"] == 0, f"lost {r['lost']}")
    return "met" if not failures else "missed: " + "; ".join(failures)


def _group_failures(r: dict[str, Any], base: dict[str, Any] | None) -> list[str]:
    failures: list[str] = []
    _check(failures, r["connected"] == r["members"], f"{r['members'] - r['connected']} never connected")
    _check(failures, r["connect_all_s"] <= 10, f"connecting took {r['connect_all_s']} s > 10")
    _check(failures, not (r.get("closes") or {}).get("4008"), f"{(r.get('closes') or {}).get('4008')} closed with 4008")
    for i, ph in enumerate(r["phases"]):
        _check(failures, ph["lost"] == 0, f"{ph['rate']:g}/s: lost {ph['lost']} of {ph['expected']}")
        _check(failures, ph["acked"] == ph["sent"], f"{ph['rate']:g}/s: {ph['sent'] - ph['acked']} never acked")
        ours = _p(ph["delivery_ms"], "p99")
        theirs = _p(base["phases"][i]["delivery_ms"], "p99") if base and i < len(base["phases"]) else None
        if ours is not None and theirs is not None:
            _check(failures, ours <= theirs, f"{ph['rate']:g}/s: p99 {_ms(ours)} ms > relay {_ms(theirs)}")
    return failures


def cpu_summary(row: dict[str, Any], relay_run: dict[str, Any] | None) -> str:
    """CPU ms per delivered message: ours / the relay's (ours ÷ relay)."""
    ours = cpu_total(row.get("messenger"))
    if ours is None:
        return "-"
    theirs = cpu_total(relay_run)
    if theirs is None:
        return f"{_cpu_ms(ours)} / -"
    return f"{_cpu_ms(ours)} / {_cpu_ms(theirs)} ({cpu_ratio(row.get('messenger'), relay_run)})"


def targets_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| scenario | target | Messenger Core | bare relay (same run) | CPU ms per delivered msg: ours / relay "
             "(ours ÷ relay) | verdict |", "|---|---|---|---|---|---|"]
    for row in rows:
        goal = row["scenario"].get("goal")
        if not goal:
            continue
        relay = cell(row, "relay")
        relay_run = relay_beside(rows, row)
        if row.get("relay") is None and row["scenario"]["kind"] == "rate" and not row["scenario"].get("relay", True):
            same = next((r for r in rows if r.get("relay") is relay_run), None) if relay_run else None
            relay = f"(the relay run of {same['name']})" if same else "(no relay run with this load)"
        lines.append(f"| {row['name']} | {TARGETS.get(goal, goal)} | {cell(row, 'messenger')} | {relay} | "
                     f"{cpu_summary(row, relay_run)} | {verdict(row)} |")
    lines.append("")
    lines.append("Latencies: send → the recipient's `message` event, on the generator's clock. lost = acknowledged "
                 "but not delivered live by the end of the drain (pairs: 5 s; group phases: 10 s); \"still missing after "
                 "a reconnect\" = not in the replay either. The relay keeps no backlog, so it has no reconnect figure. "
                 "CPU ms per delivered message: API + worker + PostgreSQL + Redis for ours, relay + Redis for the relay, "
                 "from the load to the end of the drain (the CPU table below has each process).")
    return "\n".join(lines)


def sequential_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| scenario | target | sent | acked | delivered | lost | dup | delivery ms p50 / p90 / p99 / max | "
             "ack ms p50 / p90 / p99 / max |", "|" + "---|" * 9]
    for row, target, run in target_runs(rows):
        r = run["result"]
        if "error" in r:
            lines.append(f"| {row['name']} | {target} | error: {r['error']} |" + " |" * 6)
            continue
        lines.append(f"| {row['name']} | {target} | {r['sent']} | {r['acked']} | {r['delivered']} | {r['lost']} | "
                     f"{r['dup']} | {_lat4(r['delivery_ms'])} | {_lat4(r['ack_ms'])} |")
    return "\n".join(lines)


def _lat4(stats: dict[str, Any]) -> str:
    return "-" if not stats.get("n") else " / ".join(_ms(stats.get(k)) for k in ("p50", "p90", "p99", "max"))


def group_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| scenario | target | connected | all connected (s) | connect ms p50 / p99 / max | settle (s) | phase | "
             "sent / acked | deliveries expected | received | lost | delivery ms p50 / p95 / p99 / max | server RSS peak (Δ MB) |",
             "|" + "---|" * 13]
    for row, target, run in target_runs(rows):
        r = run["result"]
        if "error" in r:
            lines.append(f"| {row['name']} | {target} | error: {r['error']} |" + " |" * 10)
            continue
        c = r["connect_ms"]
        conn = "-" if not c.get("n") else " / ".join(_ms(c.get(k)) for k in ("p50", "p99", "max"))
        rss = _rss(run, "api" if target == "messenger" else "relay")
        for ph in r["phases"]:
            lines.append(
                f"| {row['name']} | {target} | {r['connected']}/{r['members']} | {r['connect_all_s']} | {conn} | "
                f"{r['settle_s']} | {ph['rate']:g} msg/s × {ph['duration']:g} s | {ph['sent']} / {ph['acked']} | "
                f"{ph['expected']} | {ph['received']} | {ph['lost']} | {_lat(ph['delivery_ms'])} | {rss} |")
    lines.append("")
    lines.append("Expected deliveries: acked messages × (members − 1); the sender's own echo is not counted.")
    return "\n".join(lines)
