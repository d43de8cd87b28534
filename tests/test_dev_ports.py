"""A taken worker metrics port (9100 is node_exporter's on many hosts). Outside dev
the worker refuses to start with a message naming WORKER_METRICS_PORT (exit 2, no traceback);
`messenger dev` (what `make run` ends in) picks a free port instead and says which."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.devserver import available_port
from tests.support.processes import ROOT, free_port


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port someone else listens on, as node_exporter does on 9100."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_worker_refuses_a_taken_metrics_port_naming_the_setting(backing: Any, taken_port: int) -> None:
    env = {**os.environ, **backing.env, "WORKER_METRICS_PORT": str(taken_port)}
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "worker"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert "WORKER_METRICS_PORT" in done.stderr and f"127.0.0.1:{taken_port}" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def test_available_port_keeps_a_free_port_and_replaces_a_taken_one(taken_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    free = free_port()
    assert available_port("127.0.0.1", free, "WORKER_METRICS_PORT") == free
    assert available_port("127.0.0.1", 0, "WORKER_METRICS_PORT") == 0  # metrics off stays off
    assert capsys.readouterr().err == ""
    replacement = available_port("127.0.0.1", taken_port, "WORKER_METRICS_PORT")
    assert replacement not in (0, taken_port)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", replacement))  # it really is free
    err = capsys.readouterr().err
    assert f"port {taken_port} (WORKER_METRICS_PORT) is taken" in err and f"using {replacement}" in err


@pytest.mark.timeout(120)
def test_dev_runs_with_the_worker_metrics_port_taken(backing: Any, taken_port: int, tmp_path: Path) -> None:
    api_port = free_port()
    env = {
        **os.environ,
        **backing.env,
        "DATA_DIR": str(tmp_path / "data"),
        "HOST": "127.0.0.1",
        "PORT": str(api_port),
        "WORKER_METRICS_PORT": str(taken_port),
    }
    log_path = tmp_path / "dev.log"
    with open(log_path, "wb") as log:
        dev = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "dev"], env=env, cwd=ROOT, stdout=log, stderr=log, stdin=subprocess.DEVNULL
        )
    try:
        deadline = time.monotonic() + 90
        while "messenger dev: ready:" not in log_path.read_text():
            assert dev.poll() is None, f"messenger dev exited with {dev.returncode}:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        output = log_path.read_text()
        match = re.search(rf"port {taken_port} \(WORKER_METRICS_PORT\) is taken on 127.0.0.1; using (\d+) instead", output)
        assert match, output
        metrics_port = int(match[1])
        assert f"worker metrics on http://127.0.0.1:{metrics_port}/metrics" in output
        text = ""
        for _ in range(100):  # the worker serves metrics once its database is up
            try:
                text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2).text
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert "messenger_jobs_total" in text, f"no worker metrics on {metrics_port}:\n{log_path.read_text()}"
        assert dev.poll() is None  # nothing died
    finally:
        dev.send_signal(signal.SIGINT)
        try:
            code = dev.wait(60)
        except subprocess.TimeoutExpired:
            dev.kill()
            raise
    assert code == 0, log_path.read_text()
    assert "messenger dev: stopped" in log_path.read_text()


def test_api_refuses_a_taken_port_naming_the_setting(backing: Any, taken_port: int) -> None:
    env = {**os.environ, **backing.env}
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "api", "--port", str(taken_port)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "PORT" in done.stderr and f"127.0.0.1:{taken_port}" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
