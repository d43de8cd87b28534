"""Scenarios of the load generator that are not the open-loop pairs of loadgen.py, one module
each (each a `Generator` subclass with `async run() -> dict`), so loadgen.py does not grow:

    sequential  one pair, one send at a time, wait for its delivery (was tests/bench/latency.py)
    group       one group chat of M members, one socket each: connect time, then send phases
"""
