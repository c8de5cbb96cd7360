"""Redis goes away: the webhook still answers in time, keeps each message on disk, and replays
them in order, once each, when Redis is back (real redis-server, killed and restarted)."""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import fakeredis
import pytest

from bot import outbox
from bot.core.model import Inbound
from bot.runtime import Runtime, build
from bot.settings import Settings
from bot.spool import Replayer, Spool, Spooled
from bot.web import create_app
from tests.conftest import Clock, Phone
from tests.redis_server import RedisServer, wait_for

DURABLE = ("--save", "", "--appendonly", "yes", "--appendfsync", "always")


def outbox_to(rt: Runtime, number: str) -> list[dict[str, str]]:
    return [f for f in outbox.queued(rt.redis) if f["to"] == number]


def step_of(rt: Runtime, number: str) -> str | None:
    return rt.store.load(number).conversation.step


@pytest.fixture
def live(settings: Settings, clock: Clock) -> Iterator[tuple[Any, Runtime, RedisServer]]:
    with RedisServer(args=DURABLE) as server:
        real = replace(settings, redis_url=server.url)
        rt = build(real, clock=clock)  # the production client: its timeouts are under test
        app = create_app(real, runtime=rt)
        try:
            yield app, rt, server
        finally:
            app.extensions["bot.spool"].replayer.stop()


@pytest.mark.slow
def test_outage_apologises_in_time_spools_and_replays_in_order(
    live: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app, rt, server = live
    patient = Phone(app.test_client(), "+19495553001")
    patient.send("hi")
    patient.send("yes")
    assert step_of(rt, patient.number) == "red_flags"
    server.kill()

    caplog.set_level(logging.DEBUG)
    for answer in ("0", "34", "zqxv private words"):
        started = time.monotonic()
        patient.send(answer)
        assert time.monotonic() - started < 2.0
        assert patient.status == 200
        assert "911" in patient.said and "(949) 409-1339" in patient.said
    spooled = Spool(app.extensions["bot.spool"].spool.dir).pending()
    assert len(spooled) == 3 and spooled == sorted(spooled)
    assert oct(spooled[0].stat().st_mode & 0o777) == "0o600"
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["spool"] == 3

    server.start()
    wait_for(lambda: not Spool(spooled[0].parent).pending())
    assert step_of(rt, patient.number) == "injury"  # red_flags=0 then age=34, in that order
    assert rt.store.load(patient.number).conversation.invalid == 1  # then the nonsense
    assert "zqxv" not in caplog.text and "spooled" in caplog.text  # bodies are never logged
    replies = outbox_to(rt, patient.number)
    assert replies and all(r["kind"] == "reply" for r in replies)
    assert app.test_client().get("/readyz").get_json() == {
        "status": "ready", "store": True, "spool": 0,
    }  # fmt: skip

    sid = patient.params("34")["MessageSid"]  # a fresh sid; then Twilio re-delivers an old one
    patient.send("no", sid=sid)
    before = len(outbox.queued(rt.redis))
    patient.send("no", sid=sid)
    assert len(outbox.queued(rt.redis)) == before and step_of(rt, patient.number) == "mechanical"


@pytest.mark.slow
def test_a_message_after_recovery_waits_for_older_spooled_ones(live: Any) -> None:
    app, rt, server = live
    patient = Phone(app.test_client(), "+19495553002")
    patient.send("hi")
    patient.send("yes")
    server.kill()
    patient.send("0")
    server.start()
    app.extensions["bot.spool"].replayer.stop()  # no background help: the request must replay
    patient.send("34")  # answers age only if "0" (red flags) was applied first
    assert "fall, twist" in patient.said
    assert step_of(rt, patient.number) == "injury"


@pytest.mark.slow
def test_a_stalled_redis_still_gets_an_answer_within_two_seconds(live: Any) -> None:
    app, rt, server = live
    patient = Phone(app.test_client(), "+19495553003")
    patient.send("hi")
    assert server.process is not None
    server.process.send_signal(signal.SIGSTOP)  # accepts connections, never answers
    try:
        started = time.monotonic()
        patient.send("yes")
        assert time.monotonic() - started < 2.0
        assert "911" in patient.said
    finally:
        server.process.send_signal(signal.SIGCONT)
    wait_for(lambda: step_of(rt, patient.number) == "red_flags")


def test_replay_after_a_crash_between_commit_and_enqueue_sends_each_reply_once(
    runtime: Runtime, tmp_path: Path, clock: Clock
) -> None:
    spool = Spool(tmp_path / "spool")
    message = Spooled("+19495553004", Inbound("hi"), clock(), "SMcrash0001")
    spool.put(message)
    # The first replay committed the conversation, then lost Redis before enqueueing replies.
    runtime.service.handle_inbound(message.phone, message.inbound, message.at, message.sid)
    replayer = Replayer(spool, runtime.service.handle_inbound, runtime.redis)
    assert replayer.replay()
    sent = outbox_to(runtime, message.phone)
    assert len(sent) >= 1
    spool.put(message)  # and once more, as if the file had survived a second crash
    assert replayer.replay()
    assert outbox_to(runtime, message.phone) == sent
    assert runtime.store.load(message.phone).conversation.step == "consent"


def test_spool_files_are_complete_sorted_and_unreadable_ones_set_aside(
    tmp_path: Path, clock: Clock, settings: Settings
) -> None:
    spool = Spool(tmp_path / "spool")
    names = [spool.put(Spooled("+19495553005", Inbound(str(n)), clock(), None)) for n in range(50)]
    assert spool.pending() == names  # arrival order
    assert not [p for p in spool.dir.iterdir() if p.name.startswith(".tmp")]
    assert [json.loads(p.read_text())["text"] for p in names[:3]] == ["0", "1", "2"]
    names[0].write_text("{not json")
    rt = build(settings, client=fakeredis.FakeRedis(decode_responses=True), clock=clock)
    assert Replayer(spool, rt.service.handle_inbound, rt.redis).replay()
    assert [p.name for p in spool.failed.iterdir()] == [names[0].name]
    assert rt.store.load("+19495553005").conversation.step == "consent"


def test_readyz_reports_spool_depth(app: Any, settings: Settings, clock: Clock) -> None:
    Spool(settings.spool_dir).put(Spooled("+19495553006", Inbound("x"), clock(), None))
    body = app.test_client().get("/readyz").get_json()
    assert body["spool"] == 1 and body["store"] is True
    assert os.path.isdir(settings.spool_dir)
