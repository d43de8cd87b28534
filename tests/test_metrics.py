"""One message to an online device moves every latency stage, counter and gauge an
operator reads, on both the API's /metrics and the worker's metrics port."""

from __future__ import annotations

import asyncio

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.clients import Device, direct_chat, make_user, send


async def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with httpx.AsyncClient() as client:
        r = await client.get(url)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_one_delivery_moves_every_stage_counter_and_gauge(http, cluster):
    api_url = f"{cluster.api.base_url}/metrics"
    worker_url = f"http://127.0.0.1:{cluster.workers[0].port}/metrics"
    alice, bob = await make_user(http), await make_user(http)
    chat = await direct_chat(http, alice, bob)
    api_before, worker_before = await scrape(api_url), await scrape(worker_url)

    device = await Device.connect(cluster.api.ws_url, bob, "phone")
    await device.next("chat_updated")
    during = await scrape(api_url)
    assert value(during, "messenger_ws_connections") == value(api_before, "messenger_ws_connections") + 1

    await send(http, alice, chat["id"], "measure me")
    frame = await device.next("message")
    await device.ack(frame["data"]["inbox_seq"])
    await asyncio.sleep(2.5)  # acks flush every 50 ms; the sweep reports the outbox every 2 s
    api_after, worker_after = await scrape(api_url), await scrape(worker_url)

    def moved(before: dict, after: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
        return value(after, name, **labels) - value(before, name, **labels)

    latency = "messenger_delivery_latency_seconds_count"
    for stage in ("commit_to_push", "publish_to_push", "commit_to_ack"):
        assert moved(api_before, api_after, latency, stage=stage) >= 1, stage
    assert moved(worker_before, worker_after, latency, stage="commit_to_publish") >= 1
    assert moved(api_before, api_after, "messenger_messages_total", transport="rest") == 1
    assert moved(api_before, api_after, "messenger_ws_connects_total") == 1
    assert moved(api_before, api_after, "messenger_ws_events_pushed_total", type="message") >= 1
    assert moved(worker_before, worker_after, "messenger_jobs_total", task="deliver", status="success") >= 1
    assert moved(worker_before, worker_after, "messenger_inbox_events_total", type="message") == 2  # both members
    assert moved(worker_before, worker_after, "messenger_job_duration_seconds_count", task="deliver") >= 1
    # The sweep reports the outbox every 2 s: a report taken while the ack's receipt record
    # was still pending shows 1 until the next one.
    for _ in range(30):
        if value(worker_after, "messenger_outbox_pending") == 0:
            break
        await asyncio.sleep(0.25)
        worker_after = await scrape(worker_url)
    assert value(worker_after, "messenger_outbox_pending") == 0
    route = {"method": "POST", "route": "/messages", "status": "201"}
    assert moved(api_before, api_after, "messenger_http_request_duration_seconds_count", **route) == 1
    buckets = [k for k in api_after if k[0] == "messenger_delivery_latency_seconds_bucket"]
    assert {dict(labels)["le"] for _, labels in buckets} >= {"0.001", "0.005", "0.025", "0.1", "2.5", "+Inf"}

    await device.close()
    await asyncio.sleep(0.3)
    closed = await scrape(api_url)
    assert value(closed, "messenger_ws_connections") == value(api_before, "messenger_ws_connections")
    assert moved(api_before, closed, "messenger_ws_disconnects_total", code="1000") == 1
