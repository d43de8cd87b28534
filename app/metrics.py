"""Every Prometheus metric the API and the worker export, in one place.

Labels are low-cardinality only (stage, task, status, route template, close code); never a
user, chat or message id, and never `job` or `instance`: Prometheus gives every scraped series
those two itself (scrape job and target), and a metric label of the same name would be renamed
to `exported_job` / `exported_instance` on ingestion. With PROMETHEUS_MULTIPROC_DIR set
(`messenger api --workers N` sets it for its processes), `render()` aggregates every process's files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

# Around the latency goals: single-digit ms median, 25-100 ms p99, nothing past seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

DELIVERY_LATENCY = Histogram(
    "messenger_delivery_latency_seconds",
    "Delivery latency by stage: commit_to_publish (worker), publish_to_push, commit_to_push "
    "and commit_to_ack (API gateway)",
    ["stage"],
    buckets=LATENCY_BUCKETS,
)
MESSAGES = Counter(
    "messenger_messages_total", "Messages stored (acknowledged to the sender)", ["transport"]
)
WS_CONNECTIONS = Gauge(
    "messenger_ws_connections", "Open WebSocket connections", multiprocess_mode="livesum"
)
WS_CONNECTS = Counter("messenger_ws_connects_total", "WebSocket handshakes accepted")
WS_DISCONNECTS = Counter(
    "messenger_ws_disconnects_total", "WebSocket connections closed, by close code", ["code"]
)
WS_EVENTS_PUSHED = Counter(
    "messenger_ws_events_pushed_total", "Events written to devices, by event type", ["type"]
)
JOBS = Counter(
    "messenger_jobs_total",
    "arq jobs run, by task and outcome (success, retry, failed, timeout, cancelled)",
    ["task", "status"],
)
JOB_STATUSES = ("success", "retry", "failed", "timeout", "cancelled")
JOB_DURATION = Histogram(
    "messenger_job_duration_seconds", "arq job run time, by task", ["task"], buckets=LATENCY_BUCKETS
)
HTTP_DURATION = Histogram(
    "messenger_http_request_duration_seconds",
    "REST request time by route template",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
# Sampled measurements of the shared database (any process's sample is the whole truth): with
# several processes, the latest sample of a live one; "max" would keep a dead process's stale
# value until the directory is wiped.
OUTBOX_PENDING = Gauge(
    "messenger_outbox_pending",
    "Committed changes not yet turned into inbox events",
    multiprocess_mode="livemostrecent",
)
OUTBOX_OLDEST_AGE = Gauge(
    "messenger_outbox_oldest_age_seconds",
    "Age of the oldest pending outbox record",
    multiprocess_mode="livemostrecent",
)
INBOX_EVENTS = Counter(
    "messenger_inbox_events_total", "Inbox events created, by event type", ["type"]
)
DELIVERY_BATCH = Histogram(
    "messenger_delivery_batch_size",
    "Outbox records turned into inbox events per delivery transaction",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
)
REPLAY_EVENTS = Histogram(
    "messenger_inbox_replay_events",
    "Events replayed to one device by one offline flush",
    buckets=(0, 1, 5, 10, 25, 50, 100, 250, 500, 1000),
)
RATE_LIMITED = Counter(
    "messenger_rate_limited_total", "Requests refused by a rate limit", ["scope"]
)
DEPENDENCY_ERRORS = Counter(
    "messenger_dependency_errors_total",
    "Errors talking to PostgreSQL or Redis, by dependency and component",
    ["dependency", "component"],
)
PUSHES = Counter(
    "messenger_pushes_total",
    "Push notifications tried, by kind (webpush, http) and outcome (sent, retry, gone, failed)",
    ["kind", "outcome"],
)
PUSH_KINDS = ("webpush", "http")
PUSH_OUTCOMES = ("sent", "retry", "gone", "failed")
# From the message's commit to the push service's acceptance: PUSH_DELAY (5 s by default) plus
# the worker's poll and the push service's answer, so buckets in seconds.
PUSH_LATENCY = Histogram(
    "messenger_push_latency_seconds",
    "From a message's commit to its push accepted by the push service, by kind",
    ["kind"],
    buckets=(0.5, 1.0, 2.0, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0),
)

WEBHOOK_ATTEMPTS = Counter(
    "messenger_webhook_attempts_total",
    "Webhook POSTs, by outcome (success, http_error, no_answer, refused)",
    ["outcome"],
)
WEBHOOK_OUTCOMES = ("success", "http_error", "no_answer", "refused")
WEBHOOK_LATENCY = Histogram(
    "messenger_webhook_latency_seconds",
    "From an event's commit to the batch carrying it accepted by the receiver (first event of each batch)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0),
)
# Sampled by the webhook sweep over every enabled webhook (no label per bot): how many of them
# are how far behind; the largest is WEBHOOK_LAG_MAX.
WEBHOOK_LAG = Histogram(
    "messenger_webhook_cursor_lag_events",
    "Events after each enabled webhook's cursor, observed per webhook on every sweep",
    buckets=(0, 1, 10, 100, 1000, 10_000, 100_000),
)
WEBHOOK_LAG_MAX = Gauge(
    "messenger_webhook_cursor_lag_max_events", "Events after the cursor of the webhook furthest behind",
    multiprocess_mode="livemostrecent",  # a sample of the shared database, as the outbox gauges
)
WEBHOOKS_DISABLED = Counter("messenger_webhooks_disabled_total", "Webhooks disabled after WEBHOOK_DISABLE_AFTER without success")


# Label values each process can emit, created at zero on start-up (`prime`): a series that
# first appears at 1 has no increase() in Prometheus, so the first failure would never alert,
# and a panel or rule over a not-yet-seen series would look broken.
_DEPENDENCY_COMPONENTS = {
    "api": ("api", "ready", "broker", "presence", "replay", "reconcile", "acks", "dispatch"),
    "worker": ("worker", "dispatch"),
}
_RATE_LIMIT_SCOPES = ("send", "bot_send", "register", "login", "chat", "ws_device", "ws_sockets", "report", "slow_mode")


def prime(process: str) -> None:
    """Create the zero-valued children of `process`'s ("api" or "worker") labelled counters."""
    for component in _DEPENDENCY_COMPONENTS[process]:
        for dependency in ("postgres", "redis"):
            DEPENDENCY_ERRORS.labels(dependency=dependency, component=component)
    if process == "worker":
        for outcome in WEBHOOK_OUTCOMES:
            WEBHOOK_ATTEMPTS.labels(outcome=outcome)
        for kind in PUSH_KINDS:
            PUSH_LATENCY.labels(kind=kind)
            for outcome in PUSH_OUTCOMES:
                PUSHES.labels(kind=kind, outcome=outcome)
    if process == "api":
        for scope in _RATE_LIMIT_SCOPES:
            RATE_LIMITED.labels(scope=scope)


def prime_task(task: str) -> None:
    """Zero series for one arq task (every status, and its duration histogram)."""
    for status in JOB_STATUSES:
        JOBS.labels(task=task, status=status)
    JOB_DURATION.labels(task=task)


MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def multiprocess_dir() -> Iterator[str]:
    """For a parent that spawns several serving processes (`messenger api --workers N`):
    PROMETHEUS_MULTIPROC_DIR in the environment the children inherit (they import
    prometheus_client after it is set, so their values go to files there and `render()` on any
    of them sums them all). An operator's directory is kept but wiped of earlier runs' files at
    start; when unset, a fresh temporary directory, removed afterwards."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        os.makedirs(given, exist_ok=True)
        for name in os.listdir(given):
            if name.endswith(".db"):
                os.remove(os.path.join(given, name))
        yield given
        return
    path = tempfile.mkdtemp(prefix="messenger-metrics-")
    os.environ[MULTIPROC_ENV] = path
    try:
        yield path
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(path, ignore_errors=True)


def process_exited(pid: int) -> None:
    """Drop an exited process's live gauges (messenger_ws_connections) from the sums; its
    counters and histograms stay counted, as Prometheus expects of a counter."""
    if os.environ.get(MULTIPROC_ENV):
        mark_process_dead(pid)


def render() -> tuple[bytes, str]:
    """Prometheus text for /metrics (the API) or the worker's metrics port."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(DEFAULT_REGISTRY), CONTENT_TYPE_LATEST


_PUSHED_BY_TYPE: dict[str, Counter] = {}


def ws_event_pushed(event_type: str) -> None:
    """WS_EVENTS_PUSHED for one event, with the labelled child looked up once per type."""
    child = _PUSHED_BY_TYPE.get(event_type)
    if child is None:
        child = _PUSHED_BY_TYPE[event_type] = WS_EVENTS_PUSHED.labels(type=event_type)
    child.inc()
