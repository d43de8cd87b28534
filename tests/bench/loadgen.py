"""The load generator, run as its own process so that its CPU is not the server's:

    python -m tests.bench.loadgen --spec spec.json

It prints JSON lines on stdout: `{"phase": ...}` as it goes (the orchestrator starts RSS
baselines and py-spy on "load"), then one `{"result": {...}}`. Progress goes to stderr.

Targets: "messenger" (users registered over REST, Bearer tokens, direct chats) and "relay"
(tests/bench/relay.py: user ids in the query string, chats registered with a frame).
Scenario kinds, one module each in tests/bench/scenarios/:
    rate        N sender/recipient pairs plus M idle connections; open-loop sends at a fixed
                total rate R for T seconds, then a drain; acks, deliveries, latencies.
    reconnect   K devices that were seen once, a backlog of B messages each sent while they
                are offline, then all reconnect at once: time until each has all B.
    sequential  one pair, one send at a time, each waiting for its delivery.
    group       one group chat of M members, one socket each: connect time, then send phases.
    webhooks    N bots, each with a webhook at its own receiver in this process and a direct
                chat with its sender; open-loop sends at a fixed rate; events/s the receivers get.

Every message's content carries its send time on this process's clock
(`t=<perf_counter_ns>;k=<n>`), so the delivery latency needs no clock sync.

The parts: measure.py (clock, percentiles, output), devices.py (a device's socket and
counters), generator.py (what every scenario shares), scenarios/ (one module per kind).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
from typing import Any

# The generator's public names, for scenario modules that import them from here.
from tests.bench.devices import Device, Identity, Pair
from tests.bench.generator import ACK_EVERY, ACK_INTERVAL, PASSWORD, Generator
from tests.bench.measure import emit, log, now_ns, parse_stamp, percentiles
from tests.bench.servers import raise_nofile

__all__ = [
    "ACK_EVERY", "ACK_INTERVAL", "PASSWORD", "Device", "Generator", "Identity", "Pair",
    "emit", "log", "main", "now_ns", "parse_stamp", "percentiles",
]  # fmt: skip


def nofile_limit() -> int:
    """Raise RLIMIT_NOFILE as the servers do (thousands of sockets); the soft limit now."""
    raise_nofile()
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def amain(spec: dict[str, Any]) -> dict[str, Any]:
    kind = spec["kind"]
    Run: type[Generator]
    # Imported on demand: a scenario module imports this one's names.
    if kind == "sequential":
        from tests.bench.scenarios.sequential import SequentialRun as Run
    elif kind == "group":
        from tests.bench.scenarios.group import GroupRun as Run
    elif kind == "reconnect":
        from tests.bench.scenarios.reconnect import ReconnectRun as Run
    elif kind == "webhooks" and spec["target"] == "relay":
        from tests.bench.scenarios.webhooks import RelayRun as Run  # no webhooks there: the same load over WebSocket
    elif kind == "webhooks":
        from tests.bench.scenarios.webhooks import WebhookRun as Run
    else:
        from tests.bench.scenarios.rate import RateRun as Run
    return await Run(spec).run()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.loadgen")
    parser.add_argument("--spec", required=True, help="a JSON file describing the run")
    args = parser.parse_args(argv)
    with open(args.spec) as f:
        spec = json.load(f)
    nofile = nofile_limit()
    log(f"target={spec['target']} kind={spec['kind']} nofile={nofile}")
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    try:
        result = asyncio.run(amain(spec))
    except Exception as exc:  # noqa: BLE001 - reported to the orchestrator, not a traceback
        import traceback

        traceback.print_exc()
        emit({"result": {"error": f"{type(exc).__name__}: {exc}"}})
        raise SystemExit(1) from None
    emit({"result": result})


if __name__ == "__main__":
    main()
