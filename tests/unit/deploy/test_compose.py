"""docker-compose.yml is a stack that can start: every service has an image, the worker's port is
published and probed, the router runs a command the CLI has, health conditions point at services
that have a healthcheck, and every file it mounts exists in the repository.

No Docker engine is needed; ``docker compose config`` runs when the client has the compose plugin.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from glasswatch.cli import app as cli_app
from glasswatch.settings import WorkerSettings
from glasswatch.web.health import HEALTH_PATH

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _compose()["services"]
    return services


def _probe(service: dict[str, Any]) -> str:
    check = service.get("healthcheck") or {}
    if check.get("disable"):
        return ""
    test = check.get("test") or []
    return " ".join(test) if isinstance(test, list) else str(test)


def test_the_stack_has_its_services_each_with_an_image() -> None:
    services = _services()
    assert set(services) == {"kafka", "mlflow", "worker", "router", "prometheus"}
    for name, svc in services.items():
        assert svc.get("image") or svc.get("build"), name
        assert svc.get("restart") == "unless-stopped", name


def test_the_worker_publishes_and_probes_its_web_port() -> None:
    worker = _services()["worker"]
    port = WorkerSettings().web_port
    assert f"{port}:{port}" in worker["ports"]
    assert worker["build"]["dockerfile"] == "Dockerfile"
    probe = _probe(worker)
    assert f"http://127.0.0.1:{port}{HEALTH_PATH}" in probe
    assert probe.startswith("CMD python -c")  # the image has Python, no curl


def test_every_long_running_service_but_the_router_has_a_healthcheck() -> None:
    services = _services()
    for name in ("kafka", "mlflow", "worker", "prometheus"):
        assert _probe(services[name]), f"{name} has no healthcheck"
    # the router serves no port: its healthcheck is off on purpose (restart policy instead)
    assert services["router"]["healthcheck"] == {"disable": True}


def test_health_conditions_point_at_services_with_a_healthcheck() -> None:
    services = _services()
    for name, svc in services.items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            if cond.get("condition") == "service_healthy":
                assert _probe(services[dep]), f"{name} waits for {dep} to be healthy, which has no probe"


def test_the_router_runs_the_worker_image_with_a_real_command() -> None:
    services = _services()
    router, worker = services["router"], services["worker"]
    assert router["image"] == worker["image"]
    assert router.get("pull_policy") == "never"  # built by the worker service, never on a registry
    assert router["command"] == ["router", "run"]
    out = CliRunner().invoke(cli_app, [*router["command"], "--help"])
    assert out.exit_code == 0, out.output
    assert "--routes" in out.output
    bootstrap = "GLASSWATCH_KAFKA__BOOTSTRAP"
    assert router["environment"][bootstrap] == worker["environment"][bootstrap] == "kafka:9092"


def test_named_volumes_are_declared_and_bind_mounts_exist() -> None:
    data = _compose()
    declared = set(data.get("volumes") or {})
    binds = []
    for name, svc in data["services"].items():
        for volume in svc.get("volumes") or []:
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                binds.append(source)
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
    assert "./deploy/prometheus/prometheus.yml" in binds
    assert "./deploy/prometheus/rules.yml" in binds
    if not PROMETHEUS_DIR.is_dir():
        pytest.skip("deploy/prometheus/ is not there yet (created with the Prometheus rules)")
    for source in binds:
        assert (ROOT / source).is_file(), f"{source} is mounted but missing"


def test_prometheus_reads_the_mounted_rules_and_scrapes_the_worker() -> None:
    config_file = PROMETHEUS_DIR / "prometheus.yml"
    if not config_file.is_file():
        pytest.skip("deploy/prometheus/prometheus.yml is not there yet")
    prometheus = _services()["prometheus"]
    targets = {v.split(":")[1] for v in prometheus["volumes"] if v.startswith("./")}
    config = yaml.safe_load(config_file.read_text())
    assert "/etc/prometheus/prometheus.yml" in targets  # the image's default --config.file
    for rule_file in config.get("rule_files") or []:
        assert str(Path("/etc/prometheus") / rule_file) in targets, f"{rule_file} is not mounted"
    scraped = {t for job in config["scrape_configs"] for sc in job.get("static_configs", [])
               for t in sc["targets"]}
    assert f"worker:{WorkerSettings().web_port}" in scraped


def test_docker_compose_config_accepts_the_file() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker client")
    if subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode:
        pytest.skip("the docker client has no compose plugin")
    done = subprocess.run([docker, "compose", "-f", str(COMPOSE), "config", "-q"],
                          capture_output=True, text=True, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
