"""The monitoring config only names metrics that app.metrics exports, and is well-formed.

A PromQL expression over a misspelt or removed metric is valid PromQL that silently returns
nothing: the alert never fires and the panel stays empty. These tests read every expression in
the alert rules and the Grafana dashboard and fail on any `messenger_*` name the processes do
not export, so renaming a metric in app/metrics.py breaks here first.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

import app.metrics  # noqa: F401  (registers every metric in the default registry)
from app.config import Settings

MONITORING = Path(__file__).resolve().parent.parent / "monitoring"
PROMETHEUS_YML = MONITORING / "prometheus.yml"
ALERTS_YML = MONITORING / "alerts.yml"
DASHBOARD_JSON = MONITORING / "grafana" / "dashboards" / "messenger.json"
DATASOURCE_YML = MONITORING / "grafana" / "provisioning" / "datasources" / "datasource.yml"
DASHBOARD_PROVIDER_YML = MONITORING / "grafana" / "provisioning" / "dashboards" / "dashboards.yml"

DATASOURCE_UID = "prometheus"
SEVERITIES = {"critical", "warning", "info"}

# Sample-name suffixes each metric type exposes (prometheus_client 0.26, text format).
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
    "stateset": ("",),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    "unknown": ("",),
}
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
# A metric name is an identifier that starts with messenger_; the look-behind keeps it from
# matching the tail of a longer identifier (e.g. `x_messenger_y`).
_METRIC = re.compile(r"(?<![A-Za-z0-9_:])messenger_[A-Za-z0-9_:]*")


def exported_metric_names() -> set[str]:
    """Every sample name the API or worker can expose, taken from the live registry.

    A labelled metric with no children yet has no samples, so the names come from each
    family's type (its suffixes), plus whatever samples already exist.
    """
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def metric_names_in(expr: str) -> set[str]:
    """`messenger_*` identifiers in a PromQL expression; label values are ignored."""
    return set(_METRIC.findall(_QUOTED.sub('""', expr)))


def load_alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(ALERTS_YML.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def load_dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD_JSON.read_text())
    return data


def iter_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels", []))  # collapsed rows nest their panels


def dashboard_exprs() -> list[tuple[str, str]]:
    return [
        (panel["title"], target["expr"])
        for panel in iter_panels(load_dashboard()["panels"])
        for target in panel.get("targets", [])
    ]


def all_exprs() -> list[tuple[str, str]]:
    alerts = [(f"alert {rule['alert']}", str(rule["expr"])) for rule in load_alert_rules()]
    return alerts + [(f"panel {title!r}", expr) for title, expr in dashboard_exprs()]


def load_scrape_configs() -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load(PROMETHEUS_YML.read_text())
    return {job["job_name"]: job for job in doc["scrape_configs"]}


def test_metric_names_in_finds_names_and_skips_label_values() -> None:
    expr = (
        'sum by (le) (rate(messenger_a_bucket{stage="messenger_not_a_metric"}[5m])) '
        "/ messenger_b and on() messenger_c_total[1m] > x_messenger_d"
    )
    assert metric_names_in(expr) == {"messenger_a_bucket", "messenger_b", "messenger_c_total"}


def test_exported_metric_names_include_type_suffixes() -> None:
    names = exported_metric_names()
    assert "messenger_jobs_total" in names  # labelled counter, no samples yet
    assert "messenger_delivery_latency_seconds_bucket" in names  # labelled histogram
    assert "messenger_outbox_pending" in names  # gauge
    assert "messenger_jobs" not in names  # a counter's bare family name is not a sample


def test_monitoring_expressions_use_only_exported_metrics() -> None:
    exported = exported_metric_names()
    exprs = all_exprs()
    used = {name for _, expr in exprs for name in metric_names_in(expr)}
    assert len(used) >= 10, "the name extraction found suspiciously few metrics"
    unknown = sorted(
        f"{where}: {name}"
        for where, expr in exprs
        for name in metric_names_in(expr)
        if name not in exported
    )
    assert not unknown, "metrics not exported by app.metrics:\n" + "\n".join(unknown)


def test_alerts_have_severity_summary_and_description() -> None:
    rules = load_alert_rules()
    assert rules
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names)), "duplicate alert names"
    for rule in rules:
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert rule["annotations"]["description"].strip(), rule["alert"]
        assert rule["expr"].strip(), rule["alert"]


def test_alerts_cover_the_operational_failures() -> None:
    exprs = " ".join(str(rule["expr"]) for rule in load_alert_rules())
    for needle in (
        'messenger_delivery_latency_seconds_bucket{stage="commit_to_push"}',
        "deriv(messenger_outbox_pending",
        "messenger_outbox_oldest_age_seconds",
        'absent(up{job="worker"})',
        'absent(up{job="api"})',
        'status=~"5.."',
        'dependency="redis"',
        "postgres",
        "messenger_jobs_total{status=~",
        'messenger_pushes_total{outcome=~"failed|retry"}',
    ):
        assert needle in exprs, needle


def test_alerts_up_jobs_are_scraped() -> None:
    jobs = set(load_scrape_configs())
    exprs = " ".join(str(rule["expr"]) for rule in load_alert_rules())
    referenced = set(re.findall(r'up\{job="([^"]+)"\}', exprs))
    assert referenced and referenced <= jobs


def test_dashboard_panels_have_unique_ids_targets_and_datasource() -> None:
    dashboard = load_dashboard()
    assert dashboard["uid"] == "messenger-core"
    assert dashboard["title"] == "Messenger Core"
    assert dashboard["schemaVersion"] >= 36
    panels = list(iter_panels(dashboard["panels"]))
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    charts = [panel for panel in panels if panel["type"] != "row"]
    assert len(charts) >= 12
    for panel in charts:
        assert panel["targets"], panel["title"]
        assert panel["datasource"]["uid"] == DATASOURCE_UID, panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target["datasource"]["uid"] == DATASOURCE_UID, panel["title"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]


def test_dashboard_panels_do_not_overlap() -> None:
    taken: set[tuple[int, int]] = set()
    for panel in load_dashboard()["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & taken, panel["title"]
        taken |= cells


def test_prometheus_config_scrapes_api_and_worker_replicas() -> None:
    doc = yaml.safe_load(PROMETHEUS_YML.read_text())
    assert doc["global"]["scrape_interval"] == "5s"
    assert "/etc/prometheus/alerts.yml" in doc["rule_files"]
    jobs = load_scrape_configs()
    worker_port = Settings.model_fields["worker_metrics_port"].default
    api_port = Settings.model_fields["port"].default
    for job, port in (("api", api_port), ("worker", worker_port)):
        config = jobs[job]
        assert config.get("metrics_path", "/metrics") == "/metrics"
        (sd,) = config["dns_sd_configs"]
        assert sd["names"] == [job]
        assert sd["type"] == "A"
        assert sd["port"] == port


def test_grafana_provisioning_points_at_prometheus_and_dashboards() -> None:
    datasource = yaml.safe_load(DATASOURCE_YML.read_text())["datasources"][0]
    assert datasource["uid"] == DATASOURCE_UID
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    provider = yaml.safe_load(DASHBOARD_PROVIDER_YML.read_text())["providers"][0]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_monitoring_expressions_pass_promtool(tmp_path: Path) -> None:
    """promtool parses the alerts, the config, and every dashboard query as PromQL."""
    shutil.copy(ALERTS_YML, tmp_path / "alerts.yml")
    config = PROMETHEUS_YML.read_text().replace("/etc/prometheus/alerts.yml", "alerts.yml")
    (tmp_path / "prometheus.yml").write_text(config)
    # Dashboard queries as recording rules, with Grafana's variable replaced by a duration.
    records = [
        {"record": f"dashboard:query_{i}", "expr": expr.replace("$__rate_interval", "1m")}
        for i, (_, expr) in enumerate(dashboard_exprs())
    ]
    (tmp_path / "dashboard_rules.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]})
    )
    for args in (
        ["check", "rules", "alerts.yml", "dashboard_rules.yml"],
        ["check", "config", "prometheus.yml"],
    ):
        result = subprocess.run(
            ["promtool", *args], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stdout + result.stderr
