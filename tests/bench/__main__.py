"""`python -m tests.bench`: the load benchmark (issues #9 and #13).

Starts its own system (fresh database, flushed Redis, one `messenger api`, one `messenger
worker` (two for scenarios that ask for it), and the bare relay of tests/bench/relay.py), runs
each scenario (tests/bench/presets.py) against Messenger Core and then the relay with a load
generator in a separate process, and prints the tables, also written to
test-artifacts/bench-<timestamp>.md.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tests.bench import pgstats, report
from tests.bench.cpu import cpu_tally, per_message
from tests.bench.document import render
from tests.bench.meters import CpuMeter, CpuTally, RssSampler, descendants, listen_drops, proc_table
from tests.bench.presets import PRESET_HELP, PRESETS, Scenario
from tests.bench.scenarios import search as search_bench
from tests.bench.servers import log
from tests.bench.system import ROOT, System

METRIC_PREFIXES = (
    "messenger_ws_disconnects_total", "messenger_dependency_errors_total", "messenger_jobs_total",
    "messenger_outbox_pending", "messenger_rate_limited_total", "messenger_ws_connections",
    "messenger_messages_total", "messenger_replay", "messenger_delivery_batch_size_count",
    "messenger_webhook_attempts_total", "messenger_webhook_latency_seconds_count",
    "messenger_webhook_latency_seconds_sum", "messenger_webhook_cursor_lag_max",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench",
        description="Load benchmark: Messenger Core (one API, one worker) against a bare Quart/Redis relay. "
        "Without flags it runs the quick set; --scenario picks presets; --rate/--duration/--pairs/--idle/"
        "--reconnect/--sends/--members build one custom scenario.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--scenario", action="append", choices=sorted(PRESETS), help="preset(s): " + PRESET_HELP)
    parser.add_argument("--rate", type=float, help="total messages per second (custom scenario)")
    parser.add_argument("--duration", type=float, help="seconds of sending (custom scenario)")
    parser.add_argument("--pairs", type=int, help="sender/recipient pairs (custom scenario; default 50)")
    parser.add_argument("--idle", type=int, help="extra idle WebSocket connections held during the run")
    parser.add_argument("--reconnect", type=int, help="devices that reconnect at once with a backlog each")
    parser.add_argument("--backlog", type=int, default=20, help="messages per device for --reconnect")
    parser.add_argument("--senders", type=int, default=100, help="partners that send the backlog for --reconnect")
    parser.add_argument("--sends", type=int, help="one pair, this many sequential sends (custom scenario)")
    parser.add_argument("--members", type=int, help="one group of this many members, one socket each (custom scenario)")
    parser.add_argument("--phases", type=str, default="1x10,5x10",
                        help="--members: send phases RATExSECONDS, comma-separated")
    parser.add_argument("--group-senders", type=int, default=5, help="--members: members that send, in turn")
    parser.add_argument("--workers", type=int, default=1, help="`messenger worker` processes for the custom scenario")
    parser.add_argument("--api-workers", type=int, default=1, metavar="N",
                        help="API processes for the custom scenario (`messenger api --workers N`)")
    parser.add_argument("--ack-every-event", action="store_true",
                        help="devices ack every inbox event as it arrives (the comparison), instead of the highest "
                        "contiguous inbox_seq at most once per 50 ms or 50 events")
    parser.add_argument("--drain", type=float,
                        help="seconds to wait for deliveries after the acks (default 5; 10 for groups)")
    parser.add_argument("--no-relay", action="store_true", help="skip the relay baseline")
    parser.add_argument("--redis-mode", choices=["auto", "shared", "private"], default="auto",
                        help="shared: REDIS_URL (default redis://127.0.0.1:6379/7), FLUSHDB first; private: an embedded "
                        "redis-server of our own on a free port (Redis >= 7 preferred); auto: shared unless other clients already subscribe to mc:* "
                        "channels there (pub/sub ignores the db number, so clusters on one server hear each other)")
    parser.add_argument("--db-pool", type=int, metavar="N",
                        help="diagnostic: give the API and the worker an asyncpg pool of N connections "
                        "(DATABASE_URL ?maxsize=N; Tortoise's default is 5)")
    parser.add_argument("--deflate", action="store_true", help="offer permessage-deflate as browsers do")
    parser.add_argument("--profile", type=float, metavar="SECONDS", default=0,
                        help="py-spy record the API and every worker for SECONDS of each scenario's load phase")
    parser.add_argument("--out", type=Path, help="markdown output (default test-artifacts/bench-<timestamp>.md)")
    return parser.parse_args(argv)


def scenarios_from(args: argparse.Namespace) -> list[Scenario]:
    chosen: list[Scenario] = []
    for name in args.scenario or []:
        chosen.extend(copy.deepcopy(PRESETS[name]))
    custom = custom_scenario(args)
    if custom is not None:
        custom.workers = args.workers
        custom.api_workers = args.api_workers
        chosen.append(custom)
    if not chosen:
        chosen = copy.deepcopy(PRESETS["quick"])
    if args.drain is not None:
        for scenario in chosen:
            scenario.drain = args.drain
    return chosen


def custom_scenario(args: argparse.Namespace) -> Scenario | None:
    if not any(v is not None for v in (args.rate, args.duration, args.pairs, args.idle, args.reconnect, args.sends,
                                       args.members)):
        return None
    if args.reconnect:
        return Scenario(f"reconnect {args.reconnect} × {args.backlog}", "reconnect", reconnect=args.reconnect,
                        backlog=args.backlog, senders=args.senders, goal="storm")
    if args.sends:
        return Scenario(f"one pair, {args.sends} sequential sends", "sequential", sends=args.sends, goal="seq")
    if args.members:
        phases = [[float(x) for x in part.split("x", 1)] for part in args.phases.split(",") if part]
        label = ", ".join(f"{r:g} msg/s × {d:g} s" for r, d in phases)
        return Scenario(f"group of {args.members}, {label}", "group", members=args.members, phases=phases,
                        group_senders=args.group_senders, drain=10.0, goal="group")
    idle_only = args.idle and args.rate is None
    rate = args.rate if args.rate is not None else (50 if idle_only else 100)
    duration = args.duration if args.duration is not None else (30 if idle_only else 10)
    pairs = args.pairs if args.pairs is not None else (10 if idle_only else 50)
    name = f"rate {rate:g} × {duration:g} s, {pairs} pairs" + (f", idle {args.idle}" if args.idle else "")
    if args.workers != 1:
        name += f", {args.workers} workers"
    if args.api_workers != 1:
        name += f", {args.api_workers} API processes"
    return Scenario(name, "rate", rate=rate, duration=duration, pairs=pairs, idle=args.idle or 0,
                    workers=args.workers, goal="idle" if args.idle else "workers" if args.workers != 1 else "rate")


def scrape_metrics(url: str) -> list[str]:
    try:
        text = httpx.get(url, timeout=5).text
    except httpx.HTTPError as exc:
        return [f"(metrics unavailable: {exc!r})"]
    return [line for line in text.splitlines() if line.startswith(METRIC_PREFIXES) and not line.endswith(" 0.0")]


def start_pyspy(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(exe).exists():
        log("py-spy not found (pip install py-spy); skipping the profile")
        return None
    return subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "100", "--nonblocking",
         "--format", "raw", "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=open(str(out) + ".log", "wb"),
    )


def run_loadgen(system: System, scenario: Scenario, target: str, sampler: RssSampler, args: argparse.Namespace,
                artifacts: Path) -> dict[str, Any]:
    server = system.api if target == "messenger" else system.relay
    assert server is not None
    spec = asdict(scenario) | {
        "target": target,
        "base_url": server.base_url,
        "ws_url": server.ws_url,
        "deflate": args.deflate,
        "ack_every_event": args.ack_every_event,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
        spec_path = f.name
    waited = quiesce(system)
    if waited > 1.5:
        log(f"waited {waited} s for the API and the worker to go idle")
    for s in system.servers():
        s.new_log_lines()  # skip what was logged before this run
    run: dict[str, Any] = {"rss_before": sampler.reset(), "quiesce_wait_s": waited}
    drops_before = listen_drops()
    if target == "messenger" and (unavailable := pgstats.reset(system.database_url)):
        run["pg_statements_unavailable"] = unavailable
    log(f"--- {scenario.name} / {target}")
    started = time.monotonic()
    # Bounded: setup + sending + drain + generous slack; killed past it.
    limit = (600 + scenario.duration * 2 + scenario.reconnect * 0.3 + scenario.idle * 0.05
             + (scenario.sends * 0.2 if scenario.kind == "sequential" else 0)
             + (scenario.members * 0.5 + sum(d for _, d in scenario.phases) * 2 if scenario.kind == "group" else 0))
    proc = subprocess.Popen([sys.executable, "-m", "tests.bench.loadgen", "--spec", spec_path], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=None, text=True)
    watchdog = threading.Timer(limit, proc.kill)
    watchdog.daemon = True
    watchdog.start()
    result: dict[str, Any] | None = None
    meter: CpuMeter | None = None
    tally: CpuTally | None = None
    spies: list[tuple[str, subprocess.Popen[bytes], Path]] = []
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if message.get("phase"):
                log(f"phase {message['phase']} at +{time.monotonic() - started:.1f}s ({datetime.now():%H:%M:%S})")
            if message.get("phase") == "load":
                run["rss_at_load"] = dict(sampler.snapshot()[1])
                pids = {s.name: s.pid for s in system.servers()} | {"loadgen": proc.pid}
                if system.private_redis is not None:
                    pids["redis"] = system.private_redis.popen.pid
                meter = CpuMeter(pids).start()
                tally = cpu_tally(system, proc.pid).start()
                if args.profile and target == "messenger":
                    seconds = max(1.0, min(args.profile, float(message.get("duration") or scenario.duration)))
                    slug = "".join(c if c.isalnum() else "-" for c in scenario.name)[:40]
                    for srv in (system.api, *system.workers()):
                        assert srv is not None
                        name = srv.name
                        out = artifacts / f"pyspy-{slug}-{name}.txt"
                        spy = start_pyspy(srv.pid, seconds, out)
                        log(f"py-spy recording {name} (pid {srv.pid}) for {seconds:g} s -> {out.name}")
                        if spy:
                            spies.append((name, spy, out))
            elif message.get("phase") == "drain" and meter is not None:
                run["cpu_load_phase"] = meter.stop()
                meter = None
            elif message.get("phase") == "drained" and tally is not None:
                run["cpu"] = tally.stop()
                tally = None
            elif "result" in message:
                result = message["result"]
                if tally is not None:  # a scenario without a "drained" phase: up to its result
                    run["cpu"] = tally.stop() | {"window_end": "result"}
                    tally = None
        proc.wait(30)
    except BaseException:
        proc.kill()
        proc.wait(5)
        raise
    finally:
        watchdog.cancel()
        os.unlink(spec_path)
    if time.monotonic() - started > limit:
        log(f"the load generator ran past its {limit:.0f} s limit and was killed")
    for _name, spy, _out in spies:
        try:
            spy.wait(max(5.0, args.profile + 20))
        except subprocess.TimeoutExpired:
            spy.kill()
    if spies:
        run["profile"] = {name: str(out) for name, _, out in spies}
        run["profile_summary"] = {}
        for name, _, out in spies:
            if out.exists() and out.stat().st_size:
                run["profile_summary"][name] = report.summarize_collapsed(out)
            else:
                log(f"py-spy for {name} wrote nothing: {Path(str(out) + '.log').read_text(errors='replace')[-500:]}")
    run["rss_peak"], run["rss_end"] = sampler.snapshot()
    run["listen_drops"] = {k: v - drops_before.get(k, 0) for k, v in listen_drops().items()}
    run["result"] = result or {"error": f"load generator exited {proc.returncode} without a result"}
    if "cpu" in run:
        run["cpu"] |= per_message(scenario.kind, target, run["result"], run["cpu"])
    run["server_alive"] = {s.name: s.alive() for s in system.servers()}
    run["log_lines"] = {s.name: s.new_log_lines() for s in system.servers()}
    run["log_lines"] = {k: v for k, v in run["log_lines"].items() if v}
    if target == "messenger":
        assert system.api is not None
        if "pg_statements_unavailable" not in run:
            run["pg_statements"] = pgstats.top(system.database_url)
        run["metrics"] = scrape_metrics(system.api.base_url + "/metrics")
        for worker in system.workers():
            run["metrics"] += [f"{worker.name}: " + line for line in scrape_metrics(worker.base_url + "/metrics")]
    summary = run["result"]
    log(f"{scenario.name} / {target}: " + json.dumps({k: summary.get(k) for k in (
        "sent", "acked", "delivered", "lost", "dup", "achieved_rate", "ack_ms", "delivery_ms", "complete_ms",
        "within_10s", "connect_all_s", "expected", "error")}, default=str))
    return run


# What the total CPU per delivered message adds up, per target (the load generator is apart).
def quiesce(system: System, limit: float = 90.0) -> float:
    """Wait until the API and the worker are idle (< 10 % of a core over 1 s), so one run's
    leftovers (an overloaded server still working through buffered frames) do not land in
    the next run's figures. Returns the seconds waited."""
    started = time.monotonic()
    pids = {s.name: s.pid for s in (system.api, *system.workers()) if s is not None and s.alive()}
    while time.monotonic() - started < limit:
        meter = CpuMeter(pids)
        meter.pids = dict(pids)  # only ours, not every postgres
        meter.start()
        time.sleep(1.0)
        usage = meter.stop()
        if all(usage.get(name, 0.0) < 10.0 for name in pids):
            break
    return round(time.monotonic() - started, 1)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scenarios = scenarios_from(args)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    artifacts = ROOT / "test-artifacts" / f"bench-{stamp}"
    artifacts.mkdir(parents=True, exist_ok=True)
    out_path = args.out or ROOT / "test-artifacts" / f"bench-{stamp}.md"
    command = "python -m tests.bench " + " ".join(argv if argv is not None else sys.argv[1:])
    log(f"scenarios: {[s.name for s in scenarios]}; artifacts in {artifacts}")

    system = System.start(artifacts, relay=not args.no_relay, redis_mode=args.redis_mode, db_pool=args.db_pool)
    system_info = {
        "database": system.database_url.split("@")[-1].split("?")[0]
        + (f", server pools of {args.db_pool} connections" if args.db_pool else ""),
        "redis": system.redis_url.split("@")[-1] + (
            f" (private redis-server {'.'.join(map(str, system.private_redis.version))})" if system.private_redis
            else " (embedded)" if system.embedded and system.embedded.redis_url == system.redis_url else ""),
    }
    system_info["code"] = code_version()
    system_info["acks"] = ("every inbox event as it arrives (--ack-every-event)" if args.ack_every_event else
                           "cumulatively: the highest contiguous inbox_seq, at most once per 50 ms or 50 events")
    sampler = RssSampler(rss_pids(system)).start()
    rows: list[dict[str, Any]] = []
    aborted = None
    try:
        for scenario in scenarios:
            row: dict[str, Any] = {"name": scenario.name, "scenario": asdict(scenario)}
            rows.append(row)
            if system.scale_workers(scenario.workers):
                sampler.set_pids(rss_pids(system))
            row["workers"] = len(system.workers())
            try:
                if system.scale_api(scenario.api_workers):
                    sampler.set_pids(rss_pids(system))
            except RuntimeError as exc:
                row["skipped"] = str(exc)
                log(f"{scenario.name}: skipped: {exc}")
                if system.api is None or not system.api.alive():
                    aborted = f"the API did not come back: {exc}"
                    break
                continue
            row["api_processes"] = system.api_processes
            if scenario.kind == "search":  # no load generator: tests/bench/scenarios/search.py
                row["messenger"] = search_bench.run(system, scenario)
                continue
            row["messenger"] = run_loadgen(system, scenario, "messenger", sampler, args, artifacts)
            if not all(row["messenger"]["server_alive"].values()):
                aborted = f"a server died during {scenario.name}: {row['messenger']['server_alive']}"
                log(aborted)
                for s in system.servers():
                    log(f"{s.name} log tail:\n{s.log_tail()}")
                break
            if system.relay is not None and scenario.relay and scenario.kind != "reconnect":
                row["relay"] = run_loadgen(system, scenario, "relay", sampler, args, artifacts)
    except KeyboardInterrupt:
        aborted = "interrupted"
    finally:
        sampler.stop()
        system.stop()

    text = render(rows, command, stamp, aborted, system_info)
    out_path.write_text(text)
    (artifacts / "results.json").write_text(json.dumps(rows, indent=1, default=str))
    print(text)
    log(f"written to {out_path}")
    return 1 if aborted else 0


def rss_pids(system: System) -> dict[str, int | list[int]]:
    """The processes whose RSS the bench samples: each server's (the API's with its children)."""
    pids: dict[str, int | list[int]] = {s.name: s.pid for s in system.servers()}
    if system.api is not None and system.api_processes > 1:
        pids["api"] = sorted(descendants(system.api.pid, proc_table()))
    return pids


def code_version() -> str:
    """HEAD and whether the server code (app/, workers/, migrations/) had uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "app", "workers", "migrations"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if not dirty:
        return f"commit {head}"
    return f"commit {head} + uncommitted changes in {', '.join(line[3:] for line in dirty[:12])}"


if __name__ == "__main__":
    raise SystemExit(main())
