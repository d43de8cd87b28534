"""`messenger api --workers N`: N processes, each one API instance (its own Node and instance
id), on one host:port. Real processes: the parent binds the port and supervises; /metrics on
any child sums every process; a message crosses from one process to the other; SIGTERM closes
every socket with 1001 and exits 0; a child that dies takes the whole API down, non-zero."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import make_stack
from tests.support.clients import Device, User, direct_chat, make_user
from tests.support.processes import LOG_DIR, ROOT, Proc, free_port, wait_http


def start_api_workers(env: dict[str, str], workers: int = 2) -> Proc:
    """`messenger api --workers N` on a free port, once it answers /ready."""
    port = free_port()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"api-workers-{port}.log"
    with open(log_path, "ab") as log:
        popen = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "api", "--port", str(port), "--workers", str(workers)],
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=log,
            stderr=log,
        )
    proc = Proc(name="api-workers", popen=popen, port=port, log_path=log_path, env=env)
    wait_http(proc, "/ready")
    return proc


def api_children(parent: int) -> list[int]:
    """The pids of the parent's spawned API processes (not multiprocessing's resource tracker)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"spawn_main" in cmdline:
            pids.append(int(entry.name))
    return sorted(pids)


def metrics_dir_of(pid: int) -> str:
    """The PROMETHEUS_MULTIPROC_DIR a process runs with."""
    text = (Path("/proc") / str(pid) / "environ").read_text()
    return dict(line.split("=", 1) for line in text.split("\0") if "=" in line)["PROMETHEUS_MULTIPROC_DIR"]


def files_in(directory: str) -> list[str] | None:
    """The directory's file names; None when there is no such directory."""
    try:
        return os.listdir(directory)
    except FileNotFoundError:
        return None


def connections_by_process(directory: str, pids: list[int]) -> dict[int, float]:
    """messenger_ws_connections of each process alone: its own files of the multiprocess
    directory, summed by the same collector /metrics uses."""
    counts = {}
    for pid in pids:
        with tempfile.TemporaryDirectory() as own:
            for name in files_in(directory) or []:
                if name.endswith(f"_{pid}.db"):
                    shutil.copy(os.path.join(directory, name), own)
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=own)
            counts[pid] = registry.get_sample_value("messenger_ws_connections") or 0.0
    return counts


def gone(pid: int) -> bool:
    try:
        return "Z" in (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True


async def wait_exit(proc: Proc, timeout: float) -> int:
    return await asyncio.to_thread(proc.popen.wait, timeout)


async def connect_tracked(api: Proc, directory: str, pids: list[int], user: User, count: int) -> list[tuple[Device, int]]:
    """`count` devices of `user`, one after another, each with the pid of the process holding
    it: the one whose own messenger_ws_connections went up (counted before `connected` is sent)."""
    devices: list[tuple[Device, int]] = []
    before = connections_by_process(directory, pids)
    for i in range(count):
        device = await Device.connect(api.ws_url, user, f"d{i}")
        after = connections_by_process(directory, pids)
        (pid,) = [pid for pid in pids if after[pid] == before[pid] + 1]
        devices.append((device, pid))
        before = after
    return devices


async def ws_connections(api: Proc) -> float:
    """messenger_ws_connections from /metrics, over a new connection (either process may answer)."""
    async with httpx.AsyncClient() as client:
        r = await client.get(f"{api.base_url}/metrics")
    assert r.status_code == 200
    for family in text_string_to_metric_families(r.text):
        if family.name == "messenger_ws_connections":
            return sum(sample.value for sample in family.samples)
    raise AssertionError("no messenger_ws_connections in /metrics")


@pytest.mark.timeout(60)
async def test_two_processes_serve_one_port_sum_their_metrics_and_deliver_across(backing, stacks, tmp_path):
    stack = await make_stack(stacks, backing)
    await asyncio.to_thread(stack.add_worker)
    directory = tmp_path / "metrics"  # an operator's directory: kept, wiped of earlier runs
    directory.mkdir()
    (directory / "counter_1.db").write_bytes(b"left over from another run")
    api = await asyncio.to_thread(start_api_workers, {**stack.env, "PROMETHEUS_MULTIPROC_DIR": str(directory)})
    stack.apis.append(api)  # stopped with the stack whatever happens
    pids = api_children(api.popen.pid)
    assert len(pids) == 2
    assert "counter_1.db" not in (files_in(str(directory)) or [])
    async with httpx.AsyncClient(base_url=api.base_url, timeout=10) as http:
        alice, bob = await make_user(http), await make_user(http)
        chat = await direct_chat(http, alice, bob)
        senders = await connect_tracked(api, str(directory), pids, alice, 8)
        receivers = await connect_tracked(api, str(directory), pids, bob, 8)
        everyone = senders + receivers
        # Both processes hold sockets: the kernel spread the 16 connections over them.
        assert {pid for _, pid in everyone} == set(pids)

        # Whichever process answers /metrics (a new connection each time) reports the sum.
        for _ in range(6):
            assert await ws_connections(api) == 16

        # A message sent on one process reaches the other user's devices on both.
        sender, origin = senders[0]
        assert any(pid != origin for _, pid in receivers)
        await sender.send("message", {"chat_id": chat["id"], "content": "across", "client_msg_id": "x1"}, ref="s")
        for device, _ in receivers:
            frame = await device.next("message", timeout=10)
            assert frame["data"]["message"]["content"] == "across"

        for device, _ in everyone:
            await device.close()
        for _ in range(50):
            if await ws_connections(api) == 0:
                break
            await asyncio.sleep(0.1)
        assert await ws_connections(api) == 0


@pytest.mark.timeout(60)
async def test_sigterm_closes_every_socket_with_1001_and_exits_0(backing, stacks):
    stack = await make_stack(stacks, backing)
    api = await asyncio.to_thread(start_api_workers, stack.env)
    stack.apis.append(api)
    pids = api_children(api.popen.pid)
    assert len(pids) == 2
    directory = metrics_dir_of(pids[0])  # a temporary directory the parent made
    async with httpx.AsyncClient(base_url=api.base_url, timeout=10) as http:
        user = await make_user(http)
    devices = await connect_tracked(api, directory, pids, user, 8)
    assert {pid for _, pid in devices} == set(pids)
    started = time.monotonic()
    api.signal(signal.SIGTERM)
    codes = await asyncio.gather(*(device.closed_with(10) for device, _ in devices))
    assert codes == [1001] * len(devices)
    assert await wait_exit(api, 15) == 0
    assert time.monotonic() - started < 10
    assert all(gone(pid) for pid in pids)
    assert files_in(directory) is None  # removed at exit


@pytest.mark.timeout(60)
async def test_a_child_killed_stops_the_other_and_the_parent_exits_non_zero(backing, stacks):
    stack = await make_stack(stacks, backing)
    api = await asyncio.to_thread(start_api_workers, stack.env)
    stack.apis.append(api)
    pids = api_children(api.popen.pid)
    assert len(pids) == 2
    async with httpx.AsyncClient(base_url=api.base_url, timeout=10) as http:
        user = await make_user(http)
    devices = await connect_tracked(api, metrics_dir_of(pids[0]), pids, user, 8)
    killed, survivor = pids
    assert {pid for _, pid in devices} == {killed, survivor}
    os.kill(killed, signal.SIGKILL)
    assert await wait_exit(api, 15) == 1
    assert all(gone(pid) for pid in pids)
    # The survivor was stopped as on SIGTERM: its sockets closed with 1001; the killed
    # process's sockets just dropped.
    codes = await asyncio.gather(*(device.closed_with(10) for device, _ in devices))
    on_survivor = [code for code, (_, pid) in zip(codes, devices) if pid == survivor]
    assert on_survivor and set(on_survivor) == {1001}
    assert "exited unexpectedly" in api.log_tail(50)


def test_a_taken_port_is_a_config_error_before_any_process_starts(backing):
    env = {**os.environ, **backing.env}
    for reuseport in (False, True):  # True: as another `messenger api --workers N` holds it
        with socket.socket() as holder:
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuseport:
                holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            port = holder.getsockname()[1]
            done = subprocess.run(
                [sys.executable, "-m", "app.cli", "api", "--port", str(port), "--workers", "2"],
                env=env, cwd=ROOT, capture_output=True, text=True, timeout=30,
            )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr, done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "api", "--port", str(free_port())],
        env={**env, "API_WORKERS": "none"}, cwd=ROOT, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2 and "API_WORKERS" in done.stderr and "Traceback" not in done.stderr, done.stderr
