"""The load generator's scenarios, one module per kind, each a `Generator` subclass
(tests/bench/generator.py) with `async run() -> dict`; tests/bench/loadgen.py picks one by the
spec's `kind`:

    rate        N pairs plus idle sockets, open-loop sends at a fixed rate, then a drain
    reconnect   a backlog for offline devices, then every device reconnects at once
    sequential  one pair, one send at a time, wait for its delivery (was tests/bench/latency.py)
    group       one group chat of M members, one socket each: connect time, then send phases
    webhooks    N bots with a webhook each (receivers in the generator), open-loop sends at a fixed rate
"""
