"""Workers under faults: kill -9 mid-burst loses and duplicates nothing; Redis outages are ridden
out; unsafe Redis persistence or eviction is reported at start with the fix."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import keys, outbox
from bot.settings import ROOT
from bot.worker import redis_warnings
from bot.writes import Writes
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN
from tests.redis_server import RedisServer, free_port, wait_for

BURST = 1000
DURABLE = ("--save", "", "--appendonly", "yes", "--appendfsync", "always")


@pytest.fixture
def fake_api(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The fake Twilio API as its own process: it outlives any worker we kill."""
    record = tmp_path / "sent.jsonl"
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "tests.fake_twilio", "--port", str(port),
                                "--record", str(record)], cwd=ROOT, stdout=subprocess.PIPE)  # fmt: skip
    assert process.stdout is not None and b"listening" in process.stdout.readline()
    try:
        yield f"http://127.0.0.1:{port}", record
    finally:
        process.terminate()
        process.wait(10)


def worker_env(redis_url: str, api: str, tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "config"
    if not config.exists():
        shutil.copytree(ROOT / "config", config)
        clinic = config / "clinic.yaml"
        clinic.write_text(clinic.read_text().replace("send_rate_per_second: 1",
                                                     "send_rate_per_second: 1000"))  # fmt: skip
    return {**os.environ, "REDIS_URL": redis_url, "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_FROM_NUMBER": "+19495550000",
            "TWILIO_API_BASE_URL": api, "BOT_CONFIG_DIR": str(config),
            "BOT_CLAIM_IDLE_MS": "1500", "BOT_SPOOL_DIR": str(tmp_path / "spool")}  # fmt: skip


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "bot", "worker"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip


def sent(record: Path) -> list[str]:
    if not record.exists():
        return []
    # Only whole lines: the fake may be appending the last one right now (a run hit it once).
    whole = record.read_text().split("\n")[:-1]
    return [json.loads(line)["body"] for line in whole if line]


def enqueue_burst(client: Any) -> list[str]:
    bodies = [f"burst message {n:04d}" for n in range(BURST)]
    writes = Writes()
    for n, body in enumerate(bodies):  # one number each: reconciliation lists per number
        outbox.queue(writes, message_id=f"burst:{n}", to=f"+1949700{n:04d}", body=body, kind="test")
    assert writes.apply(client) == BURST
    return bodies


def drained(client: Any) -> bool:
    return client.xlen(keys.OUTBOX) == 0 and not client.zcard(keys.OUTBOX_DELAYED)


def burst_under_way(server: RedisServer, api: str, record: Path, tmp_path: Path,
                    log: str) -> tuple[list[str], subprocess.Popen[bytes]]:  # fmt: skip
    """1,000 messages enqueued and a worker a quarter of the way through sending them."""
    bodies = enqueue_burst(server.client(decode_responses=True))
    worker = start_worker(worker_env(server.url, api, tmp_path), tmp_path / log)
    wait_for(lambda: len(sent(record)) >= BURST // 4, 30)
    return bodies, worker


def finish(worker: subprocess.Popen[bytes], record: Path, client: Any) -> None:
    """Wait until every message went out, then a little longer for any duplicate to show."""
    try:
        wait_for(lambda: len(sent(record)) >= BURST and drained(client), 40)
        time.sleep(2.0)  # anything the claim could still resend would show up by now
        assert worker.poll() is None, "the worker died"
    finally:
        worker.terminate()
        worker.wait(10)


@pytest.mark.slow
def test_kill_9_mid_burst_then_a_new_worker_sends_each_message_exactly_once(
    fake_api: tuple[str, Path], tmp_path: Path
) -> None:
    api, record = fake_api
    with RedisServer(args=DURABLE) as server:
        client = server.client(decode_responses=True)
        bodies, first = burst_under_way(server, api, record, tmp_path, "worker1.log")
        first.send_signal(signal.SIGKILL)  # mid-send, mid-ack: no goodbye
        first.wait(10)
        killed_at = len(sent(record))
        assert killed_at < BURST, "the burst finished before the kill: nothing was proven"
        second = start_worker(worker_env(server.url, api, tmp_path), tmp_path / "worker2.log")
        finish(second, record, client)
        counts = Counter(sent(record))
        assert set(counts) == set(bodies)
        assert [b for b, n in counts.items() if n > 1] == []
        assert client.xlen(keys.OUTBOX_DEAD) == 0


@pytest.mark.slow
def test_a_worker_rides_out_a_redis_restart_and_loses_nothing(
    fake_api: tuple[str, Path], tmp_path: Path
) -> None:
    api, record = fake_api
    with RedisServer(args=DURABLE) as server:
        bodies, worker = burst_under_way(server, api, record, tmp_path, "worker.log")
        try:
            server.kill()
            time.sleep(1.5)
            server.start()
        except BaseException:
            worker.terminate()
            raise
        finish(worker, record, server.client(decode_responses=True))  # asserts it survived
        counts = Counter(sent(record))
        assert set(counts) == set(bodies) and max(counts.values()) == 1
        log = (tmp_path / "worker.log").read_text()
        assert "reconnecting with backoff" in log and "reachable again" in log


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--appendonly", "no", "--save", ""), ["appendonly=no", "CONFIG SET appendonly yes"]),
        (("--appendonly", "yes", "--maxmemory-policy", "allkeys-lru"),
         ["maxmemory-policy is allkeys-lru", "CONFIG SET maxmemory-policy noeviction"]),
    ],
)  # fmt: skip
def test_bot_worker_warns_about_unsafe_redis_with_the_fix(
    args: tuple[str, ...], expected: list[str], tmp_path: Path
) -> None:
    with RedisServer(args=args) as server:
        assert any(expected[0] in w for w in redis_warnings(server.client(decode_responses=True)))
        env = worker_env(server.url, "http://127.0.0.1:9", tmp_path)
        log = tmp_path / "worker.log"
        worker = start_worker(env, log)
        try:
            wait_for(lambda: "started" in log.read_text(), 20)
        finally:
            worker.terminate()
            worker.wait(10)
        text = log.read_text()
        assert "WARNING" in text and all(e in text for e in expected), text


@pytest.mark.slow
def test_a_safely_configured_redis_gets_no_warning() -> None:
    with RedisServer(args=("--appendonly", "yes", "--maxmemory-policy", "noeviction")) as server:
        assert redis_warnings(server.client(decode_responses=True)) == []


@pytest.mark.slow
def test_bot_worker_warns_at_start_about_a_staff_number_it_cannot_reach(tmp_path: Path) -> None:
    with RedisServer(args=DURABLE) as server:
        client = server.client(decode_responses=True)
        client.hset(keys.UNREACHABLE, "+19495550102", "30006")
        env = {**worker_env(server.url, "http://127.0.0.1:9", tmp_path),
               "STAFF_ALERT_NUMBERS": "+19495550101,+19495550102"}  # fmt: skip
        log = tmp_path / "worker.log"
        worker = start_worker(env, log)
        try:
            wait_for(lambda: "started" in log.read_text(), 20)
        finally:
            worker.terminate()
            worker.wait(10)
        text = log.read_text()
        assert "staff number ...0102 cannot be reached (30006)" in text and "START" in text
        assert "+19495550102" not in text and "...0101 cannot" not in text
