"""Load benchmark for Messenger Core (issue #9): `python -m tests.bench --help`.

Modules:
    __main__  CLI and orchestration: backing services, one API + one worker, the relay,
              scenarios run by a separate load-generator process, RSS sampling, py-spy.
    system    the system under test: fresh PostgreSQL database, Redis (private or embedded
              fallback), one API + one worker + the relay.
    servers   spawning those processes (and a private redis-server), their logs.
    meters    CPU and RSS of processes and the machine, from /proc.
    loadgen   the load generator (its own process): its CLI, one run per scenario kind.
    generator what every scenario shares: users, chats, connects, acks, counters;
              devices.py its WebSockets (on tests/support/wsclient.py), measure.py its clock
              and output; scenarios/ one module per kind (rate, reconnect, sequential, group).
    relay     a bare Quart + Hypercorn WebSocket relay over Redis pub/sub (the baseline).
    report    the result table (markdown), ratios to the relay.
"""
