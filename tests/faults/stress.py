"""`make test-faults-stress`: the fault suite N times (default 30) with two busy-loop
processes competing for the CPU beside it, the conditions of the one loss ever seen.

    .venv/bin/python -m tests.faults.stress [--runs N]

Prints every fault's line of every run, then per fault: runs, lost in total, the worst
recovery time; exits non-zero if any run lost a message or failed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FAULT_LINE = re.compile(r"^FAULT (?P<name>.+?)\s+sent=(?P<sent>\d+)\s+acknowledged=(?P<acked>\d+)\s+delivered=(?P<delivered>\d+)\s+lost=(?P<lost>\d+)")


def busy_loops(count: int, seconds: float) -> list[subprocess.Popen[bytes]]:
    code = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass\n"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(count)]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults.stress")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--busy", type=int, default=2, help="busy-loop processes beside the suite")
    parser.add_argument("-k", dest="only", default=None, help="only the fault tests matching this pytest -k expression")
    args = parser.parse_args()
    totals: dict[str, list[int]] = defaultdict(list)
    failed_runs: list[int] = []
    started = time.monotonic()
    for run in range(1, args.runs + 1):
        loops = busy_loops(args.busy, 3600)
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "pytest", "tests/faults/test_faults.py", "-q", "-s", "-p", "no:cacheprovider"]
                + (["-k", args.only] if args.only else []),
                cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=1800,
            )
        finally:
            for loop in loops:
                loop.kill()
                loop.wait()
        lines = [line for line in proc.stdout.splitlines() if line.startswith(("FAULT ", "LOST "))]
        for line in lines:
            print(f"run {run:>2} {line}", flush=True)
            match = FAULT_LINE.match(line)
            if match:
                totals[match["name"].strip()].append(int(match["lost"]))
        if proc.returncode != 0:
            failed_runs.append(run)
            print(f"run {run:>2} FAILED (exit {proc.returncode}):\n" + "\n".join(proc.stdout.splitlines()[-40:]), flush=True)
    print(f"\n=== {args.runs} runs of the fault suite with {args.busy} busy loops, {time.monotonic() - started:.0f} s ===")
    for name, losses in totals.items():
        print(f"{name:<28} runs={len(losses):<3} lost in total={sum(losses):<3} runs with a loss={sum(1 for n in losses if n)}")
    print(f"runs that failed: {failed_runs or 'none'}")
    return 1 if failed_runs or any(sum(v) for v in totals.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
