"""A real Prometheus scraping a live API and worker finds every metric and label
the Grafana dashboard and the alert rules name, as written, and loads every rule healthy.

tests/test_monitoring.py checks names against the registry in-process; only a real server
shows what it does to them (a metric label `job` comes out as `exported_job`, a labelled
counter without children has no series at all). The generated config is the repo's
monitoring/prometheus.yml with its DNS discovery swapped for the test cluster's addresses,
and the repo's monitoring/alerts.yml as its rule file.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.clients import Device, direct_chat, make_user, send
from tests.support.processes import LOG_DIR, free_port
from tests.test_monitoring import (
    ALERTS_YML,
    PROMETHEUS_YML,
    dashboard_exprs,
    iter_panels,
    load_alert_rules,
    load_dashboard,
)

PROMETHEUS = shutil.which("prometheus")
pytestmark = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="the `prometheus` binary is not installed (Debian package `prometheus`; .ci/run installs it)",
)

# Selectors: a metric name (ours, or Prometheus's own `up`) and its optional {matchers}.
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_SELECTOR = re.compile(r"(?<![A-Za-z0-9_:$])(messenger_[A-Za-z0-9_:]*|up)\b\s*(\{[^}]*\})?")
_MATCHER = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
_GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
_LEGEND_LABEL = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_TEMPLATE_LABEL = re.compile(r"\$labels\.([A-Za-z_][A-Za-z0-9_]*)")


@dataclass
class Use:
    """One expression of the dashboard or the rules, and what it asks of the series."""

    where: str
    expr: str
    metrics: set[str]
    labels: set[str]  # label names that must exist on every metric of the expression
    values: set[tuple[str, str, str]]  # (metric, label, value) of every `=` matcher


def parse_use(where: str, expr: str, extra_labels: set[str]) -> Use:
    selectors = _SELECTOR.findall(expr)
    metrics = {name for name, _ in selectors}
    labels = set(extra_labels)
    values: set[tuple[str, str, str]] = set()
    for name, matchers in selectors:
        for label, op, value in _MATCHER.findall(matchers):
            labels.add(label)
            if op == "=":
                values.add((name, label, value))
    unquoted = _QUOTED.sub('""', expr)
    for group in _GROUPING.findall(unquoted):
        labels.update(label.strip() for label in group.split(",") if label.strip())
    return Use(where=where, expr=expr, metrics=metrics, labels=labels, values=values)


def monitoring_uses() -> list[Use]:
    uses = []
    for panel in iter_panels(load_dashboard()["panels"]):
        for target in panel.get("targets", []):
            legend = set(_LEGEND_LABEL.findall(target.get("legendFormat", "")))
            uses.append(parse_use(f"panel {panel['title']!r}", target["expr"], legend))
    for rule in load_alert_rules():
        text = " ".join(str(v) for v in rule.get("annotations", {}).values())
        uses.append(parse_use(f"alert {rule['alert']}", str(rule["expr"]), set(_TEMPLATE_LABEL.findall(text))))
    return uses


def test_parse_use_reads_selectors_groupings_and_legends() -> None:
    use = parse_use(
        "x",
        'histogram_quantile(0.9, sum by (le, stage) (rate(messenger_a_bucket{stage="s", code=~"5.."}[1m])))'
        " / ignoring(x) up{job=\"api\"}",
        {"instance"},
    )
    assert use.metrics == {"messenger_a_bucket", "up"}
    assert use.labels == {"le", "stage", "code", "job", "instance"}
    assert use.values == {("messenger_a_bucket", "stage", "s"), ("up", "job", "api")}


def test_monitoring_uses_cover_dashboard_and_rules() -> None:
    uses = monitoring_uses()
    assert len(uses) == len(dashboard_exprs()) + len(load_alert_rules())
    used = {name for use in uses for name in use.metrics}
    assert len(used) >= 15, used
    labels = {label for use in uses for label in use.labels}
    assert {"task", "stage", "route", "le", "job", "instance", "component"} <= labels


class Prometheus:
    def __init__(self, workdir: Path, config: dict[str, Any]) -> None:
        self.port = free_port()
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = LOG_DIR / f"prometheus-{self.port}.log"
        with open(self.log_path, "ab") as log:
            assert PROMETHEUS
            self.proc = subprocess.Popen(
                [PROMETHEUS, f"--config.file={workdir / 'prometheus.yml'}",
                 f"--storage.tsdb.path={workdir / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}"],
                stdout=log,
                stderr=log,
                cwd=workdir,
            )
        self.url = f"http://127.0.0.1:{self.port}"

    def log_tail(self) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def scrape_config(api_targets: list[str], worker_targets: list[str]) -> dict[str, Any]:
    """The repo's prometheus.yml, pointed at this cluster and scraping every second."""
    config: dict[str, Any] = yaml.safe_load(PROMETHEUS_YML.read_text())
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = [str(ALERTS_YML)]
    targets = {"api": api_targets, "worker": worker_targets}
    jobs = []
    for job in config["scrape_configs"]:
        if job["job_name"] in targets:
            job.pop("dns_sd_configs", None)
            job["static_configs"] = [{"targets": targets[job["job_name"]]}]
            jobs.append(job)
    assert {job["job_name"] for job in jobs} == set(targets), "prometheus.yml must scrape jobs api and worker"
    config["scrape_configs"] = jobs
    return config


async def api_get(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    r = await client.get(path, params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "success", body
    return body["data"]


@pytest.fixture
async def prometheus(cluster: Any, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    config = scrape_config(
        [f"127.0.0.1:{api.port}" for api in cluster.apis],
        [f"127.0.0.1:{worker.port}" for worker in cluster.workers],
    )
    server = Prometheus(tmp_path, config)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            deadline = time.monotonic() + 30
            while True:
                assert server.proc.poll() is None, f"prometheus exited:\n{server.log_tail()}"
                try:
                    if (await client.get("/-/ready")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, f"prometheus not ready:\n{server.log_tail()}"
                await asyncio.sleep(0.2)
            yield client
    finally:
        await asyncio.to_thread(server.stop)


async def make_traffic(http: httpx.AsyncClient, cluster: Any) -> None:
    """A user, a chat, a message delivered to a device that acks it, a socket closed."""
    alice, bob = await make_user(http), await make_user(http)
    chat = await direct_chat(http, alice, bob)
    device = await Device.connect(cluster.api.ws_url, bob, "phone")
    await device.next("chat_updated")
    await send(http, alice, chat["id"], "scrape me")
    frame = await device.next("message")
    await device.ack(frame["data"]["inbox_seq"])
    await asyncio.sleep(0.2)
    await device.close()


async def wait_for_scrapes(client: httpx.AsyncClient, scrapes: int = 3) -> None:
    """Every target up, and `scrapes` scrapes of each after the traffic (scrape_interval 1 s)."""
    since = time.time()
    deadline = time.monotonic() + 30
    while True:
        targets = (await api_get(client, "/api/v1/targets", state="active"))["activeTargets"]
        done = [
            t for t in targets
            if t["health"] == "up" and _parse_ts(t["lastScrape"]) > since + scrapes - 1
        ]  # fmt: skip
        if targets and len(done) == len(targets):
            return
        assert time.monotonic() < deadline, f"targets not scraped: {targets}"
        await asyncio.sleep(0.3)


def _parse_ts(value: str) -> float:
    """Prometheus's RFC 3339 time (nanosecond fraction) as a Unix time."""
    match = re.fullmatch(r"(.+?)(\.\d+)?(Z|[+-]\d\d:\d\d)", value)
    assert match, value
    zone = "+00:00" if match[3] == "Z" else match[3]
    return datetime.fromisoformat(match[1] + zone).timestamp() + float(match[2] or 0)


@pytest.mark.timeout(120)
async def test_prometheus_finds_every_metric_and_label_the_dashboard_and_rules_use(http, cluster, prometheus):
    await make_traffic(http, cluster)
    await wait_for_scrapes(prometheus)

    uses = monitoring_uses()
    series: dict[str, list[dict[str, str]]] = {}
    for name in sorted({name for use in uses for name in use.metrics}):
        series[name] = await api_get(prometheus, "/api/v1/series", **{"match[]": name})

    problems = []
    for use in uses:
        for name in sorted(use.metrics):
            found = series[name]
            if not found:
                problems.append(f"{use.where}: no series {name}")
                continue
            names = set().union(*(s.keys() for s in found))
            for label in sorted(use.labels - names):
                problems.append(f"{use.where}: {name} has no label {label!r} (it has {sorted(names - {'__name__'})})")
        for name, label, value in sorted(use.values):
            if series[name] and value not in {s.get(label) for s in series[name]}:
                problems.append(f"{use.where}: no series {name}{{{label}={value!r}}}")
    assert not problems, "\n".join(problems)

    # What the rename was for: no metric label collided with a target label on ingestion.
    exported = await api_get(prometheus, "/api/v1/label/__name__/values", **{"match[]": '{__name__=~"messenger_.+"}'})
    assert exported, "no messenger_ metric scraped"
    for label in ("exported_job", "exported_instance"):
        clashes = await api_get(prometheus, f"/api/v1/label/{label}/values")
        assert clashes == [], f"a metric still has a label Prometheus renamed to {label}: {clashes}"
    tasks = await api_get(prometheus, "/api/v1/label/task/values")
    assert {"deliver", "sweep"} <= set(tasks), tasks

    # Dashboard queries run as Grafana would send them (status success: they evaluate).
    for _title, expr in dashboard_exprs():
        await api_get(prometheus, "/api/v1/query", query=expr.replace("$__rate_interval", "1m"))


@pytest.mark.timeout(120)
async def test_prometheus_loads_every_alert_rule_healthy(cluster, prometheus):
    expected = {rule["alert"] for rule in load_alert_rules()}
    deadline = time.monotonic() + 30
    while True:  # a rule not evaluated yet has health "unknown"
        groups = (await api_get(prometheus, "/api/v1/rules"))["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        if {r["name"] for r in rules} == expected and all(r["health"] != "unknown" for r in rules):
            break
        assert time.monotonic() < deadline, f"rules not all loaded and evaluated: {rules}"
        await asyncio.sleep(0.5)
    unhealthy = [(r["name"], r["health"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    assert not unhealthy, unhealthy
    assert {r["name"] for r in rules} == expected
    # Once both APIs and the worker are scraped, the down alerts' conditions are false.
    await wait_for_scrapes(prometheus, scrapes=1)
    for rule in load_alert_rules():
        if rule["alert"] in ("MessengerWorkerDown", "MessengerApiDown"):
            result = (await api_get(prometheus, "/api/v1/query", query=rule["expr"]))["result"]
            assert result == [], (rule["alert"], result)
