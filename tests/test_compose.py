"""docker-compose.yml keeps Redis durable and every service health-checked (no Docker engine here)."""

from pathlib import Path
from typing import Any

import yaml

from bot.settings import ROOT


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def flags(command: list[str]) -> dict[str, str]:
    return {
        command[i]: command[i + 1]
        for i in range(1, len(command) - 1)
        if command[i].startswith("--")
    }


def test_redis_is_durable_and_never_evicts() -> None:
    redis = compose()["services"]["redis"]
    options = flags(redis["command"])
    assert options["--appendonly"] == "yes"
    assert options["--appendfsync"] == "everysec"
    assert options["--maxmemory-policy"] == "noeviction"
    assert any(v.endswith(":/data") for v in redis["volumes"])
    assert "redis-data" in compose()["volumes"]


def test_web_runs_gunicorn_and_worker_runs_bot_worker() -> None:
    services = compose()["services"]
    assert services["web"]["command"][0] == "gunicorn"
    assert "bot.wsgi:app" in services["web"]["command"]
    assert services["worker"]["command"] == ["bot", "worker"]
    for name in ("web", "worker"):
        assert services[name]["environment"]["REDIS_URL"].endswith("@redis:6379/0")
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_every_service_has_a_health_check() -> None:
    for name, service in compose()["services"].items():
        assert "healthcheck" in service, name
        assert service["healthcheck"]["test"][0] == "CMD"


def test_the_image_builds_from_files_that_exist() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert Path(ROOT / src).exists(), src
    assert "bot.wsgi:app" in dockerfile
