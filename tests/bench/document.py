"""The bench's report as Markdown: one section per kind of scenario, ours beside the relay's."""

from __future__ import annotations

import os
from typing import Any

from tests.bench import pgstats, report
from tests.bench import summary as targets
from tests.bench.scenarios import search as search_bench
from tests.bench.scenarios import webhooks as webhook_bench


def render(rows: list[dict[str, Any]], command: str, stamp: str, aborted: str | None,
           system_info: dict[str, str]) -> str:
    cpu = os.cpu_count()
    parts = [
        f"# Messenger Core load benchmark, {stamp}",
        "",
        f"`{command.strip()}` on {cpu} cores (PostgreSQL {system_info.get('database')}, Redis {system_info.get('redis')}): one `messenger api`, one `messenger worker` (two where a scenario says so), PostgreSQL, Redis, "
        "the relay and the load generator (its own process) all share this machine.",
        f"Server code: {system_info.get('code')}.",
        "Latencies in ms, on the generator's clock (send → `message_ack`; send → the recipient's `message` event). "
        "RSS: peak VmRSS during the run (Δ: MB above the value at its start). Ratios: ours ÷ the relay's.",
        f"Devices ack {system_info.get('acks')}.",
        "",
    ]
    if aborted:
        parts += [f"**Aborted: {aborted}**", ""]
    rate_rows = [r for r in rows if r["scenario"]["kind"] == "rate"]
    recon_rows = [r for r in rows if r["scenario"]["kind"] == "reconnect"]
    seq_rows = [r for r in rows if r["scenario"]["kind"] == "sequential"]
    group_rows = [r for r in rows if r["scenario"]["kind"] == "group"]
    if any(r["scenario"].get("goal") for r in rows):
        parts += ["## Targets (issue 13)", "", targets.targets_table(rows), ""]
    if seq_rows:
        parts += ["## One pair, sequential", "", targets.sequential_table(seq_rows), ""]
    if rate_rows:
        parts += ["## Throughput and latency", "", report.rate_table(rate_rows), ""]
    if any((run.get("cpu") or {}).get("ms_per_message") for _, _, run in report.target_runs(rows)):
        parts += ["## CPU per delivered message (ms)", "", report.cpu_table(rows), ""]
    if group_rows:
        parts += ["## Large group", "", targets.group_table(group_rows), ""]
    if recon_rows:
        parts += ["## Reconnect storm", "", report.reconnect_table(recon_rows), ""]
    if webhook_rows := [r for r in rows if r["scenario"]["kind"] == "webhooks"]:
        parts += ["## Webhooks (issue 29)", "", webhook_bench.table(webhook_rows), ""]
    if search_rows := [r for r in rows if r["scenario"]["kind"] == "search"]:
        parts += ["## Search (issue 17)", "", search_bench.table(search_rows), ""]
    profiles = {}
    for row in rows:
        for name, summary in (row.get("messenger", {}).get("profile_summary") or {}).items():
            profiles[f"{name} during {row['name']}"] = summary
    if profiles:
        parts += ["## Profiles", "", report.profile_section(profiles), ""]
    statements = [(row["name"], row["messenger"]) for row in rows if "messenger" in row]
    if any("pg_statements" in run for _, run in statements):
        parts += ["## PostgreSQL statements (pg_stat_statements, per scenario's load and drain)", ""]
        for name, run in statements:
            if run.get("pg_statements"):
                parts += [f"### {name}", "", pgstats.table(run["pg_statements"]), ""]
    elif statements and (reason := statements[0][1].get("pg_statements_unavailable")):
        parts += [f"PostgreSQL statements: {reason}", ""]
    parts += ["## Details", "", report.details(rows)]
    return "\n".join(parts) + "\n"
