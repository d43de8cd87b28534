"""`python -m tests.bench`: the load benchmark (issue #9).

Starts its own system (fresh database, flushed Redis, one `messenger api`, one `messenger
worker`, and the bare relay of tests/bench/relay.py), runs each scenario against Messenger
Core and then the relay with a load generator in a separate process, and prints a table,
also written to test-artifacts/bench-<timestamp>.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tests.bench import report
from tests.bench.system import ROOT, CpuMeter, RssSampler, System, listen_drops, log


@dataclass
class Scenario:
    name: str
    kind: str  # rate | reconnect
    rate: float = 100.0
    duration: float = 10.0
    pairs: int = 50
    idle: int = 0
    reconnect: int = 0
    backlog: int = 20
    senders: int = 100
    drain: float = 5.0


PRESETS: dict[str, list[Scenario]] = {
    "quick": [
        Scenario("quick: rate 100 × 10 s, 20 pairs", "rate", rate=100, duration=10, pairs=20),
        Scenario("quick: idle 500 + rate 50 × 10 s", "rate", rate=50, duration=10, pairs=10, idle=500),
        Scenario("quick: reconnect 200 × 20", "reconnect", reconnect=200, backlog=20, senders=20),
    ],
    "a": [Scenario("a: rate 500 × 30 s, 50 pairs", "rate", rate=500, duration=30, pairs=50)],
    "b": [Scenario("b: rate 1500 × 60 s, 50 pairs", "rate", rate=1500, duration=60, pairs=50)],
    "c": [Scenario("c: idle 5000 + rate 50 × 30 s, 10 pairs", "rate", rate=50, duration=30, pairs=10, idle=5000)],
    "d": [Scenario("d: reconnect 2000 × 20", "reconnect", reconnect=2000, backlog=20, senders=100)],
}
PRESETS["all"] = PRESETS["a"] + PRESETS["b"] + PRESETS["c"] + PRESETS["d"]

METRIC_PREFIXES = (
    "messenger_ws_disconnects_total", "messenger_dependency_errors_total", "messenger_jobs_total",
    "messenger_outbox_pending", "messenger_rate_limited_total", "messenger_ws_connections",
    "messenger_messages_total", "messenger_replay", "messenger_delivery_batch_size_count",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench",
        description="Load benchmark: Messenger Core (one API, one worker) against a bare Quart/Redis relay. "
        "Without flags it runs the quick set; --scenario picks presets; --rate/--duration/--pairs/--idle/"
        "--reconnect build one custom scenario.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--scenario", action="append", choices=sorted(PRESETS),
                        help="preset(s): a = 500 msg/s × 30 s, b = 1500 msg/s × 60 s, c = 5000 idle sockets, "
                        "d = 2000 devices reconnecting with 20 events each, quick = small versions, all = a b c d")
    parser.add_argument("--rate", type=float, help="total messages per second (custom scenario)")
    parser.add_argument("--duration", type=float, help="seconds of sending (custom scenario)")
    parser.add_argument("--pairs", type=int, help="sender/recipient pairs (custom scenario; default 50)")
    parser.add_argument("--idle", type=int, help="extra idle WebSocket connections held during the run")
    parser.add_argument("--reconnect", type=int, help="devices that reconnect at once with a backlog each")
    parser.add_argument("--backlog", type=int, default=20, help="messages per device for --reconnect")
    parser.add_argument("--senders", type=int, default=100, help="partners that send the backlog for --reconnect")
    parser.add_argument("--drain", type=float, default=5.0, help="seconds to wait for deliveries after the acks")
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
                        help="py-spy record the API and the worker for SECONDS of each rate scenario's load phase")
    parser.add_argument("--out", type=Path, help="markdown output (default test-artifacts/bench-<timestamp>.md)")
    return parser.parse_args(argv)


def scenarios_from(args: argparse.Namespace) -> list[Scenario]:
    chosen: list[Scenario] = []
    for name in args.scenario or []:
        chosen.extend(PRESETS[name])
    custom = any(v is not None for v in (args.rate, args.duration, args.pairs, args.idle, args.reconnect))
    if custom:
        if args.reconnect:
            chosen.append(Scenario(f"reconnect {args.reconnect} × {args.backlog}", "reconnect",
                                   reconnect=args.reconnect, backlog=args.backlog, senders=args.senders))
        else:
            idle_only = args.idle and args.rate is None
            rate = args.rate if args.rate is not None else (50 if idle_only else 100)
            duration = args.duration if args.duration is not None else (30 if idle_only else 10)
            pairs = args.pairs if args.pairs is not None else (10 if idle_only else 50)
            name = f"rate {rate:g} × {duration:g} s, {pairs} pairs" + (f", idle {args.idle}" if args.idle else "")
            chosen.append(Scenario(name, "rate", rate=rate, duration=duration, pairs=pairs, idle=args.idle or 0,
                                   drain=args.drain))
    if not chosen:
        chosen = list(PRESETS["quick"])
    for scenario in chosen:
        scenario.drain = args.drain
    return chosen


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
    spec = {
        "target": target,
        "kind": scenario.kind,
        "base_url": server.base_url,
        "ws_url": server.ws_url,
        "rate": scenario.rate,
        "duration": scenario.duration,
        "pairs": scenario.pairs,
        "idle": scenario.idle,
        "reconnect": scenario.reconnect,
        "backlog": scenario.backlog,
        "senders": scenario.senders,
        "drain": scenario.drain,
        "deflate": args.deflate,
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
    log(f"--- {scenario.name} / {target}")
    started = time.monotonic()
    # Bounded: setup + sending + drain + generous slack; killed past it.
    limit = 600 + scenario.duration * 2 + scenario.reconnect * 0.3 + scenario.idle * 0.05
    proc = subprocess.Popen([sys.executable, "-m", "tests.bench.loadgen", "--spec", spec_path], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=None, text=True)
    watchdog = threading.Timer(limit, proc.kill)
    watchdog.daemon = True
    watchdog.start()
    result: dict[str, Any] | None = None
    meter: CpuMeter | None = None
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
                if args.profile and target == "messenger" and scenario.kind == "rate":
                    seconds = min(args.profile, scenario.duration)
                    slug = "".join(c if c.isalnum() else "-" for c in scenario.name)[:40]
                    for name, srv in (("api", system.api), ("worker", system.worker)):
                        assert srv is not None
                        out = artifacts / f"pyspy-{slug}-{name}.txt"
                        spy = start_pyspy(srv.pid, seconds, out)
                        log(f"py-spy recording {name} (pid {srv.pid}) for {seconds:g} s -> {out.name}")
                        if spy:
                            spies.append((name, spy, out))
            elif message.get("phase") == "drain" and meter is not None:
                run["cpu_load_phase"] = meter.stop()
                meter = None
            elif "result" in message:
                result = message["result"]
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
    run["server_alive"] = {s.name: s.alive() for s in system.servers()}
    run["log_lines"] = {s.name: s.new_log_lines() for s in system.servers()}
    run["log_lines"] = {k: v for k, v in run["log_lines"].items() if v}
    if target == "messenger":
        assert system.api is not None and system.worker is not None
        run["metrics"] = scrape_metrics(system.api.base_url + "/metrics") + [
            "worker: " + line for line in scrape_metrics(system.worker.base_url + "/metrics")
        ]
    summary = run["result"]
    log(f"{scenario.name} / {target}: " + json.dumps({k: summary.get(k) for k in (
        "sent", "acked", "delivered", "lost", "dup", "achieved_rate", "ack_ms", "delivery_ms", "complete_ms",
        "within_10s", "error")}, default=str))
    return run


def quiesce(system: System, limit: float = 90.0) -> float:
    """Wait until the API and the worker are idle (< 10 % of a core over 1 s), so one run's
    leftovers (an overloaded server still working through buffered frames) do not land in
    the next run's figures. Returns the seconds waited."""
    started = time.monotonic()
    pids = {s.name: s.pid for s in (system.api, system.worker) if s is not None and s.alive()}
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
    pids = {s.name: s.pid for s in system.servers()}
    sampler = RssSampler(pids).start()
    rows: list[dict[str, Any]] = []
    aborted = None
    try:
        for scenario in scenarios:
            row: dict[str, Any] = {"name": scenario.name, "scenario": asdict(scenario)}
            rows.append(row)
            row["messenger"] = run_loadgen(system, scenario, "messenger", sampler, args, artifacts)
            if not all(row["messenger"]["server_alive"].values()):
                aborted = f"a server died during {scenario.name}: {row['messenger']['server_alive']}"
                log(aborted)
                for s in system.servers():
                    log(f"{s.name} log tail:\n{s.log_tail()}")
                break
            if system.relay is not None and scenario.kind == "rate":
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


def render(rows: list[dict[str, Any]], command: str, stamp: str, aborted: str | None,
           system_info: dict[str, str]) -> str:
    cpu = os.cpu_count()
    parts = [
        f"# Messenger Core load benchmark, {stamp}",
        "",
        f"`{command.strip()}` on {cpu} cores (PostgreSQL {system_info.get('database')}, Redis {system_info.get('redis')}): one `messenger api`, one `messenger worker`, PostgreSQL, Redis, "
        "the relay and the load generator (its own process) all share this machine.",
        f"Server code: {system_info.get('code')}.",
        "Latencies in ms, on the generator's clock (send → `message_ack`; send → the recipient's `message` event). "
        "RSS: peak VmRSS during the run (Δ: MB above the value at its start). Ratios: ours ÷ the relay's.",
        "",
    ]
    if aborted:
        parts += [f"**Aborted: {aborted}**", ""]
    rate_rows = [r for r in rows if r["scenario"]["kind"] == "rate"]
    recon_rows = [r for r in rows if r["scenario"]["kind"] == "reconnect"]
    if rate_rows:
        parts += ["## Throughput and latency", "", report.rate_table(rate_rows), ""]
    if recon_rows:
        parts += ["## Reconnect storm", "", report.reconnect_table(recon_rows), ""]
    profiles = {}
    for row in rows:
        for name, summary in (row.get("messenger", {}).get("profile_summary") or {}).items():
            profiles[f"{name} during {row['name']}"] = summary
    if profiles:
        parts += ["## Profiles", "", report.profile_section(profiles), ""]
    parts += ["## Details", "", report.details(rows)]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
