"""Every arq job run is counted by outcome under label `task`, including the runs
arq ends by cancelling them (a timeout through asyncio.wait_for, or a worker shutting down);
the cancel still reaches arq. In-process: the `instrumented` wrapper around small coroutines."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from arq import Retry
from prometheus_client import REGISTRY

from workers.jobs import instrumented


def count(task: str, status: str) -> float:
    return REGISTRY.get_sample_value("messenger_jobs_total", {"task": task, "status": status}) or 0.0


def durations(task: str) -> float:
    return REGISTRY.get_sample_value("messenger_job_duration_seconds_count", {"task": task}) or 0.0


def sleeper(task: str, seconds: float) -> Any:
    @instrumented(task)
    async def job(ctx: dict[str, Any]) -> None:
        await asyncio.sleep(seconds)

    return job


def fresh_task() -> str:
    return f"test_{uuid.uuid4().hex[:8]}"


async def test_instrumented_counts_a_timed_out_job_as_timeout_and_reraises() -> None:
    task = fresh_task()
    job = sleeper(task, 5)
    assert count(task, "timeout") == 0  # primed: the series exists at zero before any run
    with pytest.raises(TimeoutError):  # what arq sees: asyncio.wait_for's own TimeoutError
        await asyncio.wait_for(job({"job_timeouts": {task: 0.2}}), timeout=0.2)
    assert count(task, "timeout") == 1
    assert count(task, "cancelled") == 0 and count(task, "success") == 0
    assert durations(task) == 1


async def test_instrumented_counts_a_cancel_before_the_timeout_as_cancelled() -> None:
    task = fresh_task()
    run = asyncio.create_task(sleeper(task, 5)({"job_timeouts": {task: 60}}))
    await asyncio.sleep(0.1)
    run.cancel()  # what arq does to running jobs on SIGTERM
    with pytest.raises(asyncio.CancelledError):
        await run
    assert count(task, "cancelled") == 1 and count(task, "timeout") == 0


async def test_instrumented_counts_success_failure_and_retry() -> None:
    task = fresh_task()

    @instrumented(task)
    async def job(ctx: dict[str, Any], outcome: str) -> str:
        if outcome == "fail":
            raise ValueError("boom")
        if outcome == "retry":
            raise Retry(defer=1)
        return outcome

    assert await job({}, "ok") == "ok"
    with pytest.raises(ValueError):
        await job({}, "fail")
    with pytest.raises(Retry):
        await job({}, "retry")
    assert (count(task, "success"), count(task, "failed"), count(task, "retry")) == (1, 1, 1)
    assert durations(task) == 3


def test_instrumented_never_labels_by_job_or_instance() -> None:
    task = fresh_task()
    sleeper(task, 0)
    for family in REGISTRY.collect():
        if family.name.startswith("messenger_"):
            for sample in family.samples:
                assert not {"job", "instance"} & set(sample.labels), (family.name, sample.labels)
