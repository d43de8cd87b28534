"""`messenger api --workers N`: N API instances in child processes on one host:port, supervised
so that none is left serving alone (app/server.py runs one instance; this runs N of them)."""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import cast

import uvloop

from app import metrics
from app.config import Settings
from app.logs import setup_logging
from app.server import GC_THRESHOLDS, _serve, check_settings, hypercorn_config

log = logging.getLogger(__name__)


# `--workers N`: how long the children have to stop after SIGTERM before they are killed (each
# closes its sockets in up to 3 s, then Hypercorn's graceful_timeout, then the node's last flush).
SHUTDOWN_TIMEOUT = 30.0


def listening_sockets(host: str, port: int, count: int, backlog: int) -> list[socket.socket]:
    """The listening sockets of `count` API processes on host:port, bound here, in the parent.

    On Linux, one SO_REUSEPORT socket per process: the kernel spreads new connections over them
    by address hash. One shared socket would let whichever process wakes first take a whole
    burst (libuv's accept loop empties the queue), so a reconnect storm of WebSockets would
    land mostly on one process. Binding them all here, before any child starts, keeps a taken
    port the same error as with one process; the probe bind without SO_REUSEPORT first makes
    sure nobody holds the port, not even another reuseport group of this user (a second
    `messenger api --workers N`), which the kernel would otherwise let us share silently.
    Elsewhere, one socket that every process accepts from.
    """
    address = host.replace("[", "").replace("]", "")  # as Hypercorn parses its binds
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    balanced = sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")

    def bind(reuseport: bool, listen: bool) -> socket.socket:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuseport:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted sockets inherit it
            sock.bind((address, port))
            if listen:
                sock.listen(backlog)  # connections wait in the queue while the children start
        except BaseException:
            sock.close()
            raise
        return sock

    if not balanced:
        return [bind(reuseport=False, listen=True)] * count
    with bind(reuseport=False, listen=False) as probe:
        port = int(probe.getsockname()[1])  # port 0: every process on the one the kernel chose
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sockets.append(bind(reuseport=True, listen=True))
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _api_process(settings: Settings, sock: socket.socket, host: str, port: int, parent: int) -> None:
    """One of `messenger api --workers N`'s children (spawned: a fresh interpreter that imports
    prometheus_client with PROMETHEUS_MULTIPROC_DIR already set): today's single instance, its
    own app, Node and instance id, on the listening socket the parent bound."""
    setup_logging(settings.log_level)
    gc.set_threshold(*GC_THRESHOLDS)
    uvloop.install()
    asyncio.run(_serve(settings, host, port, fd=sock.detach(), parent=parent))


def supervise(settings: Settings, host: str, port: int, workers: int) -> None:
    """`messenger api --workers N`: N child processes, each one API instance, on one host:port.

    SIGTERM or SIGINT is passed on to every child as SIGTERM (each closes its sockets with 1001,
    as one instance does) and waited for; exit 0 once all stopped cleanly. A child that exits
    on its own (crash, SIGKILL, failed start) stops the others and this exits 1: never an API
    serving on fewer processes than asked for without anyone noticing. Settings and the port
    are checked here first, so their errors are the same as with one process.
    """
    check_settings(settings)
    sockets = listening_sockets(host, port, workers, hypercorn_config(host, port).backlog)
    with metrics.multiprocess_dir():
        code = _run_children(settings, host, port, sockets)
    if code:
        raise SystemExit(code)


def _run_children(settings: Settings, host: str, port: int, sockets: list[socket.socket]) -> int:
    context = multiprocessing.get_context("spawn")  # no forked copies of this process's state
    children: list[BaseProcess] = []
    stop_reason: list[str] = []  # set once: why the children are being stopped

    def stop_children() -> None:
        for child in children:
            if child.pid is not None and child.exitcode is None:
                os.kill(child.pid, signal.SIGTERM)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if not stop_reason:
            stop_reason.append(signal.Signals(signum).name)
        stop_children()

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    # The children inherit SIGINT ignored (they install no handler for it): a terminal's Ctrl+C
    # reaches the whole process group, and only this process acts on it, once, for all.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        try:
            for number, sock in enumerate(sockets, 1):
                process = context.Process(
                    target=_api_process, args=(settings, sock, host, port, os.getpid()), name=f"messenger-api-{number}"
                )
                process.start()
                children.append(process)
                if stop_reason:
                    break
        except BaseException:
            stop_children()  # no API left half started
            for child in children:
                child.join(SHUTDOWN_TIMEOUT)
            raise
        finally:
            # The children hold their own copies now. Ours closed, a child's socket leaves the
            # reuseport group when that child closes it, instead of queueing connections for nobody.
            for sock in sockets:
                sock.close()
            signal.signal(signal.SIGINT, on_signal)
        if stop_reason:
            stop_children()
        log.info("api processes started", extra={"host": host, "port": port, "pids": [c.pid for c in children]})
        return _wait_children(children, stop_reason, stop_children)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _wait_children(children: list[BaseProcess], stop_reason: list[str], stop_children: Callable[[], None]) -> int:
    """Until every child exited: 0 when all stopped cleanly on request, else 1."""
    code = 0
    running: dict[int, BaseProcess] = {child.sentinel: child for child in children}
    deadline: float | None = None
    killed = False
    while running:
        if stop_reason and deadline is None:
            log.info("stopping the API processes", extra={"reason": stop_reason[0]})
            deadline = time.monotonic() + SHUTDOWN_TIMEOUT
        if deadline is not None and not killed and time.monotonic() > deadline:
            log.error("API processes did not stop in time: killed", extra={"pids": [c.pid for c in running.values()]})
            for child in running.values():
                child.kill()
            killed, code = True, 1
        for sentinel in wait(list(running), timeout=0.5):
            child = running.pop(cast(int, sentinel))
            child.join()
            metrics.process_exited(child.pid or 0)
            if not stop_reason:
                log.error(
                    "an API process exited unexpectedly: stopping the others",
                    extra={"pid": child.pid, "exitcode": child.exitcode},
                )
                stop_reason.append(f"{child.name} exited with {child.exitcode}")
                code = 1
                stop_children()
            elif child.exitcode not in (0, -signal.SIGTERM):
                log.error("an API process did not stop cleanly", extra={"pid": child.pid, "exitcode": child.exitcode})
                code = 1
    return code
