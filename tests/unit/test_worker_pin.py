"""workers/main.py's WakeableWorker replaces arq's private `Worker.main` (to poll when woken
instead of after a fixed delay) and gives back semaphore slots `start_jobs` leaked. These tests
pin the arq internals that relies on: when arq changes them, they fail and say what to review,
instead of the worker silently losing arq's newer behaviour."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from importlib.metadata import version

from arq.worker import Worker

from workers.main import WakeableWorker

# sha256 of arq 0.28.0's sources that WakeableWorker copies or depends on.
PINNED = {
    "main": "45ca1591c9717466",
    "start_jobs": "b45797cfa40bed7f",
    "_poll_iteration": "f8d39d823a0a59f2",
}


def _digest(name: str) -> str:
    return hashlib.sha256(inspect.getsource(getattr(Worker, name)).encode()).hexdigest()[:16]


def test_arq_is_the_version_the_worker_subclass_was_written_against() -> None:
    assert version("arq") == "0.28.0", (
        f"arq is {version('arq')}: review workers/main.py WakeableWorker against arq's Worker.main, "
        "start_jobs and _poll_iteration, then update this test's pins"
    )


def test_arq_worker_internals_the_subclass_copies_are_unchanged() -> None:
    changed = {name: _digest(name) for name, pinned in PINNED.items() if _digest(name) != pinned}
    assert not changed, (
        f"arq's Worker internals changed {changed}: WakeableWorker.main is a copy of Worker.main with the "
        "poll loop replaced, and _release_leaked_slots assumes start_jobs takes `sem` before its Redis "
        "calls; re-read both against the new arq, then update PINNED"
    )


def test_the_subclass_overrides_only_main_and_adds_its_helpers() -> None:
    own = {name for name in vars(WakeableWorker) if not name.startswith("__")}
    assert own == {"main", "_release_leaked_slots", "_listen_for_wake"}, own


async def test_leaked_slots_are_given_back_to_the_semaphore() -> None:
    # As start_jobs leaves them when its Redis calls fail after taking a slot.
    worker = WakeableWorker.__new__(WakeableWorker)
    worker.sem = asyncio.Semaphore(3)
    worker.tasks = {}
    for _ in range(3):
        await worker.sem.acquire()
    worker.job_counter = 3
    worker._release_leaked_slots()
    assert worker.job_counter == 0
    for _ in range(3):  # every slot free again
        await asyncio.wait_for(worker.sem.acquire(), 0.1)
