"""CPU per delivered message (issue 30): each process's CPU seconds during a run, from /proc
(tests/bench/meters.py CpuTally), divided by what the row delivered."""

from __future__ import annotations

from typing import Any

from tests.bench.meters import CpuTally, postmaster_of
from tests.bench.servers import log
from tests.bench.system import System

CPU_TOTAL = {"messenger": ("api", "worker", "postgres", "redis"), "relay": ("relay", "redis")}


def cpu_tally(system: System, loadgen_pid: int) -> CpuTally:
    """CPU seconds of every process of the system (each with its children) during one run."""
    if system.redis_pid_cache is None:
        system.redis_pid_cache = system.redis_pid() or 0
        system.postmaster_cache = postmaster_of(system.postgres_data_dir()) or 0
        log(f"CPU per message: redis-server pid {system.redis_pid_cache or 'not found'}, postmaster pid "
            f"{system.postmaster_cache or 'not found (every process named postgres counts)'}")
    roles = {
        "api": [system.api.pid] if system.api else [],
        "worker": [w.pid for w in system.workers()],
        "relay": [system.relay.pid] if system.relay else [],
        "redis": [system.redis_pid_cache] if system.redis_pid_cache else [],
        "loadgen": [loadgen_pid],
    }
    return CpuTally(roles, postmaster=system.postmaster_cache or None, db_name=system.db_name)


def delivered_count(kind: str, target: str, result: dict[str, Any]) -> int | None:
    """What one row delivered: messages received by recipients (group: member deliveries;
    webhooks: message events at the receivers)."""
    if kind == "webhooks" and target == "messenger":
        return result.get("received")
    return result.get("delivered")


def per_message(kind: str, target: str, result: dict[str, Any], cpu: dict[str, Any]) -> dict[str, Any]:
    """CPU ms per delivered message, per process and in total (CPU_TOTAL[target])."""
    delivered = delivered_count(kind, target, result)
    if not delivered:
        return {"delivered": delivered}
    seconds: dict[str, float] = cpu["cpu_s"]
    ms = {name: 1000.0 * value / delivered for name, value in seconds.items()}
    ms["total"] = sum(ms.get(name, 0.0) for name in CPU_TOTAL[target])
    return {"delivered": delivered, "ms_per_message": {k: round(v, 4) for k, v in ms.items()}}
