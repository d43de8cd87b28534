"""The fault suite's TCP proxy (tests/support/proxy.py) closes cleanly: its connections'
tasks end on its own loop. Left pending, they were destroyed by the garbage collector at any
later moment, closing transports on a closed loop; pytest pinned that unraisable error on
whichever test ran then (run 18 of a 30-run stress loop failed so, having lost nothing)."""

from __future__ import annotations

import asyncio
import socket
import time

from tests.support.proxy import TcpProxy


def test_closing_the_proxy_ends_every_connection_task() -> None:
    with socket.create_server(("127.0.0.1", 0)) as upstream:  # the kernel accepts for it
        proxy = TcpProxy("127.0.0.1", upstream.getsockname()[1])
        clients = [socket.create_connection(("127.0.0.1", proxy.port)) for _ in range(3)]
        try:
            deadline = time.monotonic() + 5
            while len(proxy._writers) < 2 * len(clients) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert len(proxy._writers) == 2 * len(clients)  # every connection relayed upstream
            proxy.close()
            assert proxy._loop.is_closed()
            assert not asyncio.all_tasks(proxy._loop)
        finally:
            for client in clients:
                client.close()
