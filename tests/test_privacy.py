"""Privacy, measured: whole conversations at DEBUG leave no bodies, tokens or full numbers in the
logs; records expire after the retention period; `bot forget` leaves no trace in Redis."""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import fakeredis
import pytest
from twilio.request_validator import RequestValidator

from bot import keys
from bot.outbox import OutboxConsumer, drain
from bot.privacy import configure_logging
from bot.runtime import Runtime, build
from bot.settings import ROOT, Settings
from bot.twilio_sender import TwilioSender, TwilioSettings
from bot.web import create_app
from tests.conftest import CLINIC_NUMBER, PUBLIC, TOKEN, Clock, Phone, answers_with
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from tests.redis_server import RedisServer

STAFF = ("+19495550101", "+19495550102")
SECRET_WORDS = "zqxv my left knee clicks"  # a body no template could produce


@dataclass
class World:
    app: Any
    rt: Runtime
    fake: FakeTwilio
    consumer: OutboxConsumer
    numbers: dict[str, str]
    bodies: list[str]

    def phone(self, name: str) -> Phone:
        return Phone(self.app.test_client(), self.numbers[name])

    def talk(self, name: str, *texts: str) -> Phone:
        phone = self.phone(name)
        for text in texts:
            self.bodies += [text, *phone.send(text)]
            assert phone.status == 200
        return phone

    def deliver(self) -> None:
        drain(self.consumer)
        self.bodies += [m.body for m in self.fake.messages]

    def ref_for(self, name: str) -> str:
        alert = next(m.body for m in self.fake.messages if self.numbers[name] in m.body)
        return alert.split("alert ")[1].split(":")[0]

    def status(self, sid: str, status: str, code: str = "") -> None:
        params = {"MessageSid": sid, "MessageStatus": status, "ErrorCode": code,
                  "To": self.fake.messages[0].to, "AccountSid": ACCOUNT_SID}  # fmt: skip
        url = f"{PUBLIC}/twilio/status"
        signature = RequestValidator(TOKEN).compute_signature(url, params)
        response = self.app.test_client().post("/twilio/status", data=params, base_url=PUBLIC,
                                               headers={"X-Twilio-Signature": signature})  # fmt: skip
        assert response.status_code == 204


def everything(world: World) -> None:
    """Every outcome, free text, HUMAN, opt-out, staff OPEN/ACK, sends and status callbacks."""
    world.talk("exercises", "hi", *(t for _, t in answers_with()), "7am")
    world.talk("book_call", "hi", *(t for _, t in answers_with(pain_run="8")))
    world.talk("priority", "hi", "y", "0", "40", "n", "0", "3")
    world.talk("urgent", "hi", "y", "0", "55", "yes")
    world.talk("emergency", "hi", "y", "0", f"{SECRET_WORDS} and I have chest pain")
    world.talk("human", "hi", "y", "HUMAN")
    world.talk("stopper", "hi", "STOP", "hello?")
    world.fake.fail_for(world.numbers["unreachable"], 400, 21211)  # its notice goes dead
    world.talk("unreachable", "hi", "y", "HUMAN")
    world.deliver()
    refs = [world.ref_for(name) for name in ("emergency", "unreachable")]
    world.talk("staff", "OPEN", *(f"ACK {ref}" for ref in refs), "what?")
    world.deliver()
    world.status(world.fake.messages[0].sid, "delivered")
    world.status(world.fake.messages[1].sid, "undelivered", "30003")


NUMBERS = {
    "exercises": "+19495554001", "book_call": "+19495554002", "priority": "+19495554003",
    "urgent": "+19495554004", "emergency": "+19495554005", "human": "+19495554006",
    "stopper": "+19495554007", "unreachable": "+19495554008", "staff": STAFF[1],
}  # fmt: skip


@pytest.fixture
def world(settings: Settings, clock: Clock) -> Iterator[World]:
    yield from make_world(settings, clock, fakeredis.FakeRedis(decode_responses=True))


def make_world(settings: Settings, clock: Clock, client: Any) -> Iterator[World]:
    live = replace(settings, staff_alert_numbers=STAFF)
    rt = build(live, client=client, clock=clock)
    with FakeTwilio() as fake:
        sender = TwilioSender(TwilioSettings(ACCOUNT_SID, AUTH_TOKEN, CLINIC_NUMBER,
                                             api_base_url=fake.base_url,
                                             status_callback=f"{PUBLIC}/twilio/status"))  # fmt: skip
        consumer = OutboxConsumer(client, sender, consumer_name="privacy", rate=None,
                                  block_ms=0)  # fmt: skip
        yield World(create_app(live, runtime=rt), rt, fake, consumer, dict(NUMBERS), [])


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """The production log setup (configure_logging) at DEBUG, writing into a buffer."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging(logging.DEBUG)
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    yield buffer
    root.handlers[:], root.level = saved


def number_forms(number: str) -> list[str]:
    digits = number.lstrip("+")
    return [number, digits, digits[1:], f"({digits[1:4]}) {digits[4:7]}-{digits[7:]}"]


def test_logs_carry_no_bodies_tokens_or_full_numbers(
    world: World, logs: io.StringIO, settings: Settings
) -> None:
    everything(world)
    text = logs.getvalue()
    assert "...4005" in text and "alert" in text  # it did log, with masked numbers
    for number in [*NUMBERS.values(), *STAFF, CLINIC_NUMBER, "+19495550199"]:
        for form in number_forms(number):
            assert form not in text, f"a full number is in the log: {form}"
    for secret in (TOKEN, AUTH_TOKEN, settings.secret_key, world.fake.auth_token):
        assert secret not in text
    assert "zqxv" not in text
    long_lines = {line for body in world.bodies for line in body.splitlines() if len(line) > 24}
    leaked = [line for line in long_lines if line in text]
    assert not leaked, f"message text in the log: {leaked[:3]}"


def test_records_expire_after_the_configured_retention(
    settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    config_dir = tmp_path / "config"
    shutil.copytree(ROOT / "config", config_dir)
    clinic = config_dir / "clinic.yaml"
    clinic.write_text(clinic.read_text().replace("retention_days: 365", "retention_days: 30"))
    client = fakeredis.FakeRedis(decode_responses=True)
    worlds = make_world(replace(settings, config_dir=config_dir), clock, client)
    world = next(worlds)  # keep `worlds` referenced: its fake Twilio lives as long as it does
    assert world.rt.store.retention == timedelta(days=30)
    everything(world)
    month = 30 * 24 * 3600
    for name in ("exercises", "book_call", "emergency"):
        named = [k for k in client.scan_iter("*") if NUMBERS[name] in k]
        assert keys.patient(NUMBERS[name]) in named and keys.triages_of(NUMBERS[name]) in named
        for key in named:
            assert 0 < client.ttl(key) <= month, key
    records = [k for k in client.scan_iter(keys.triage("*")) if ":of:" not in k]
    alerts = list(client.scan_iter(keys.alert("*")))
    assert len(records) >= 3 and alerts
    assert all(month - 60 < client.ttl(k) <= month for k in records + alerts)
    worlds.close()


READERS: dict[str, Any] = {
    "string": lambda c, k: c.get(k), "hash": lambda c, k: c.hgetall(k),
    "set": lambda c, k: c.smembers(k), "zset": lambda c, k: c.zrange(k, 0, -1),
    "list": lambda c, k: c.lrange(k, 0, -1), "stream": lambda c, k: c.xrange(k),
}  # fmt: skip


def dump(client: Any) -> str:
    """Every key with its whole value, whatever the type (pickles too), as searchable text."""
    out = []
    for raw_key in client.scan_iter("*"):
        key = raw_key.decode()
        kind = client.type(key).decode()
        value = READERS[kind](client, key)
        text = repr(value).encode().decode("unicode_escape", errors="replace")
        out.append(f"{key} {kind} {text}")
    return "\n".join(out)


@pytest.mark.slow
def test_bot_forget_leaves_no_trace_of_the_number_in_any_key_or_value(
    settings: Settings, clock: Clock
) -> None:
    with RedisServer() as server:
        client = server.client(decode_responses=True)
        worlds = make_world(replace(settings, redis_url=server.url), clock, client)
        world = next(worlds)
        everything(world)
        world.talk("emergency", "hello again")  # a reply and alert left pending in the outbox
        world.talk("unreachable", "RESTART")
        world.deliver()
        world.talk("urgent", "CALL")  # pending: never delivered before the forget
        before = dump(server.client())
        doomed = ("emergency", "unreachable", "urgent")
        for name in doomed:
            assert NUMBERS[name].lstrip("+") in before
        assert re.search(r"bot:outbox(:lane\d)? \w+ .*" + NUMBERS["urgent"].lstrip("+"), before)
        assert re.search(r"bot:delivery:\S+ hash .*" + NUMBERS["emergency"][1:], before)
        assert re.search(r"bot:outbox:dead .*" + NUMBERS["unreachable"][1:], before)
        env = {**os.environ, "REDIS_URL": server.url}
        for name in doomed:
            done = subprocess.run([sys.executable, "-m", "bot", "forget", NUMBERS[name]], env=env,
                                  capture_output=True, text=True, timeout=30)  # fmt: skip
            assert done.returncode == 0, done.stderr
            assert NUMBERS[name] not in done.stdout + done.stderr
        after = dump(server.client())
        for name in doomed:
            assert NUMBERS[name].lstrip("+") not in after
        assert NUMBERS["exercises"] in after  # everyone else is untouched
        assert drain(world.consumer) >= 0  # the consumer copes with entries deleted under it
        worlds.close()


def test_log_level_comes_from_the_environment_and_a_typo_names_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.errors import ConfigError

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        monkeypatch.setenv("LOG_LEVEL", "debug")
        configure_logging()
        assert root.level == logging.DEBUG
        monkeypatch.setenv("LOG_LEVEL", "verbose")
        with pytest.raises(ConfigError, match="use DEBUG"):
            configure_logging()
    finally:
        root.handlers[:], root.level = saved
