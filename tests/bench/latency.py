"""One online delivery, measured alone: one pair, sequential sends, send → the recipient's
`message` frame. Kept for its old command; it is now the bench's `seq` scenario, which also
runs the loop against the bare relay in the same invocation:

    .venv/bin/python -m tests.bench.latency            # = python -m tests.bench --scenario seq
    .venv/bin/python -m tests.bench.latency --no-relay # any other flag of tests.bench passes through
"""

from __future__ import annotations

import sys

from tests.bench.__main__ import main

if __name__ == "__main__":
    raise SystemExit(main(["--scenario", "seq", *sys.argv[1:]]))
