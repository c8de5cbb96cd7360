"""The scheduler adapter against a real redis-server: leader lock and failover, job store restarts,
and `bot worker` processes sending each reminder exactly once through the fake Twilio API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot import keys
from bot.core.model import Conversation, Patient
from bot.core.plan import WEEKDAYS, Plan
from bot.leader import LeaderLock
from bot.reminders import Wake
from bot.runtime import Runtime, build
from bot.scheduler import JobBook
from bot.settings import Settings
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from tests.redis_server import RedisServer, redis_server, wait_for  # noqa: F401  (fixture)

PERSISTENT = ("--save", "", "--appendonly", "yes", "--appendfsync", "always")


def noon_zone(now: datetime) -> str:
    """A fixed-offset zone where it is about noon now, so allowed hours never skip a test."""
    offset = (12 - now.hour + 12) % 24 - 12
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


def seed(rt: Runtime, phone: str, now: datetime, *, first: datetime | None) -> str:
    """A patient whose plan says today's reminder is due (time 2 h ago, local)."""
    zone = noon_zone(now)
    today = now.astimezone(ZoneInfo(zone)).date()
    plan = Plan(zone=zone, at=clock_time(10), start=today, days=21, weekdays=WEEKDAYS,
                check_in_weekday="sun")  # fmt: skip
    patient = Patient(phone, conversation=Conversation(step="done"), plan=plan.to_json())
    rt.store.update(phone, lambda _p, pipe: rt.store.queue_save(pipe, patient))
    pid = rt.store.patient_id(phone)
    jobs = rt.reminders.jobs
    assert isinstance(jobs, JobBook)
    jobs.put(pid, Wake(zone, plan.at, today), now, first=first)
    return pid


# --- the leader lock ---------------------------------------------------------------------------


def test_standby_takes_over_within_the_lock_lifetime_when_renewal_dies(
    redis_server: RedisServer,  # noqa: F811
) -> None:
    ttl = 1.0
    a, b = (LeaderLock(redis_server.client(), ttl=ttl) for _ in range(2))
    stop_a, stop_b = threading.Event(), threading.Event()
    elected: dict[str, float] = {}
    a.start(stop_a, on_elected=lambda: elected.setdefault("a", time.monotonic()))
    wait_for(lambda: "a" in elected)
    b.start(stop_b, on_elected=lambda: elected.setdefault("b", time.monotonic()))
    time.sleep(ttl * 1.5)
    assert "b" not in elected and a.is_leader and not b.is_leader
    died = time.monotonic()
    stop_a.set()  # the renewal thread dies; the key is NOT released (a crash)
    wait_for(lambda: "b" in elected, timeout=3 * ttl)
    assert elected["b"] - died <= ttl + b.interval + 0.2
    assert not a.is_leader  # the old leader's own clock stopped it acting before that
    stop_b.set()


def test_release_is_compare_and_delete(redis_server: RedisServer) -> None:  # noqa: F811
    client = redis_server.client(decode_responses=True)
    a, b = LeaderLock(client, ttl=5), LeaderLock(client, ttl=5)
    assert a.try_acquire() and not b.try_acquire()
    assert not b.release()  # not ours: left alone
    assert client.get(keys.SCHEDULER_LEADER) == a.token
    assert a.release() and b.try_acquire()  # a clean shutdown hands over at once


# --- the job store -----------------------------------------------------------------------------


def test_job_count_survives_two_redis_restarts_and_resyncs(settings: Settings) -> None:
    with RedisServer(args=PERSISTENT) as server:
        live = replace(settings, redis_url=server.url)
        now = datetime.now(UTC)
        rt = build(live)
        pids = [seed(rt, f"+1310555{n:04d}", now, first=None) for n in range(30)]
        for _ in range(2):
            server.restart()
            rt = build(live)  # a fresh process: new job store, same Redis keys
            for phone in (f"+1310555{n:04d}" for n in range(30)):
                rt.reminders.sync(rt.store.load(phone), now)
            jobs = rt.reminders.jobs
            assert isinstance(jobs, JobBook)
            assert jobs.ids() == set(pids)
            assert rt.redis.hlen(keys.APS_JOBS) == 30 and rt.redis.zcard(keys.APS_RUN_TIMES) == 30


# --- worker processes --------------------------------------------------------------------------


@pytest.fixture
def live(settings: Settings) -> Iterator[tuple[Settings, FakeTwilio, RedisServer]]:
    with RedisServer() as server, FakeTwilio() as fake:
        yield replace(settings, redis_url=server.url), fake, server


def start_worker(live: Settings, fake: FakeTwilio, **env: str) -> subprocess.Popen[bytes]:
    environ = {**os.environ, "REDIS_URL": live.redis_url or "", "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
               "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_FROM_NUMBER": "+19495550000",
               "TWILIO_API_BASE_URL": fake.base_url, **env}  # fmt: skip
    return subprocess.Popen([sys.executable, "-m", "bot", "worker"], env=environ,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def stop_all(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.terminate()
    for worker in workers:
        worker.wait(timeout=15)


@pytest.mark.slow
def test_two_workers_send_each_reminder_once(live: Any) -> None:
    settings, fake, _server = live
    rt, now = build(settings), datetime.now(UTC)
    phones = [f"+1310556{n:04d}" for n in range(6)]
    due = now + timedelta(seconds=2)
    pids = [seed(rt, phone, now, first=due) for phone in phones]
    workers = [start_worker(settings, fake) for _ in range(2)]
    try:
        # A second scheduler for a moment (a leader that has not noticed it lost the lock):
        # this process fires every job too, at the same due time as the real leader.
        time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
        for _ in range(3):
            for pid in pids:
                rt.reminders.fire(pid)
            time.sleep(0.2)
        wait_for(lambda: len(fake.messages) >= len(phones), timeout=30)
        time.sleep(1.5)  # room for a duplicate to show up
        assert sorted(m.to for m in fake.messages) == sorted(phones)
        assert all(w.poll() is None for w in workers)
        assert rt.redis.get(keys.SCHEDULER_LEADER) is not None  # one of them leads
    finally:
        stop_all(workers)
    assert rt.redis.get(keys.SCHEDULER_LEADER) is None  # released on clean shutdown


@pytest.mark.slow
def test_a_worker_killed_between_enqueue_and_send_is_covered_once(live: Any) -> None:
    settings, fake, _server = live
    rt, now = build(settings), datetime.now(UTC)
    # Hold every sender at the shared rate limit, so whoever reads the entry waits with it
    # unsent; then SIGKILL that worker. The other one claims it once it is idle and sends it.
    rt.redis.set(keys.send_rate("default"), f"{time.time() + 60:.6f}", px=60_000)
    workers = [start_worker(settings, fake, BOT_CLAIM_IDLE_MS="500") for _ in range(2)]
    try:
        seed(rt, "+13105557000", now, first=now + timedelta(seconds=1))
        holder = wait_for_pending_owner(rt)
        victim = next(w for w in workers if holder.endswith(f"-{w.pid}"))
        victim.send_signal(signal.SIGKILL)
        victim.wait(5)
        rt.redis.delete(keys.send_rate("default"))
        wait_for(lambda: fake.count_to("+13105557000") == 1, timeout=15)
        time.sleep(1.0)
        assert fake.count_to("+13105557000") == 1
        assert rt.redis.xlen(keys.OUTBOX) == 0
    finally:
        stop_all(workers)


def wait_for_pending_owner(rt: Runtime) -> str:
    owners: list[str] = []

    def pending() -> bool:
        try:
            found = rt.redis.xpending_range(keys.OUTBOX, keys.OUTBOX_GROUP, "-", "+", 10)
        except Exception:
            return False
        owners[:] = [str(p["consumer"]) for p in found]
        return bool(owners)

    wait_for(pending, timeout=20)
    return owners[0]
