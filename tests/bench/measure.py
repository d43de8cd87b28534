"""The load generator's clock and output: send stamps on one process clock (so delivery
latency needs no clock sync), nearest-rank percentiles, JSON lines on stdout for the
orchestrator and progress on stderr."""

from __future__ import annotations

import json
import math
import sys
import time
from typing import Any


def log(*parts: Any) -> None:
    print("[loadgen]", *parts, file=sys.stderr, flush=True)


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def now_ns() -> int:
    return time.perf_counter_ns()


def percentiles(values_ns: list[int]) -> dict[str, float | None]:
    """p50/p90/p95/p99/max in milliseconds (nearest rank)."""
    if not values_ns:
        return {"n": 0, "p50": None, "p90": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values_ns)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))] / 1e6

    return {"n": len(ordered), "p50": rank(0.50), "p90": rank(0.90), "p95": rank(0.95), "p99": rank(0.99), "max": ordered[-1] / 1e6}


def parse_stamp(content: str) -> int | None:
    if not content.startswith("t="):
        return None
    try:
        return int(content[2:].split(";", 1)[0])
    except ValueError:
        return None
