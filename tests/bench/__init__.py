"""Load benchmark for Messenger Core (issue #9): `python -m tests.bench --help`.

Modules:
    __main__  CLI and orchestration: backing services, one API + one worker, the relay,
              scenarios run by a separate load-generator process, RSS sampling, py-spy.
    system    fresh PostgreSQL database / Redis / embedded fallback, process spawning, RSS.
    loadgen   the load generator (its own process): users, WebSockets, open-loop sends.
    relay     a bare Quart + Hypercorn WebSocket relay over Redis pub/sub (the baseline).
    report    the result table (markdown), ratios to the relay.
"""
