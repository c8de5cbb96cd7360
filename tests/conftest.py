"""Shared fixtures: config, a controllable clock, an app on fakeredis, a signing test phone."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import fakeredis
import pytest
from twilio.request_validator import RequestValidator

from bot.config import Config, load_config
from bot.runtime import Runtime, build
from bot.settings import ROOT, Settings
from bot.web import create_app
from tests.fake_twilio import FakeTwilio
from tests.redis_server import RedisServer

TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC = "https://bot.example.com"
CLINIC_NUMBER = "+19495550000"
IN_CI = os.environ.get("CI", "").lower() == "true"


class Clock:
    """A clock that tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 24, 18, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture(scope="session")
def config() -> Config:
    return load_config(ROOT / "config")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        redis_url="redis://unused-in-tests",
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token=TOKEN,
        twilio_from_number=CLINIC_NUMBER,
        public_base_url=PUBLIC,
        staff_alert_numbers=("+19495550101", "+19495550102"),
        spool_dir=tmp_path / "spool",
    )


@pytest.fixture(params=["fakeredis", "redis-server"])
def r(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A bytes-replying Redis for the outbox tests: fakeredis, then a real server."""
    if request.param == "fakeredis":
        yield fakeredis.FakeRedis()
        return
    with RedisServer() as server:
        yield server.client()


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    """The fake Twilio REST API in a thread."""
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def redis_client() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(decode_responses=True)


@pytest.fixture
def runtime(
    settings: Settings, redis_client: fakeredis.FakeRedis, clock: Clock, config: Config
) -> Runtime:
    return build(settings, client=redis_client, clock=clock, config=config)


@pytest.fixture
def app(settings: Settings, runtime: Runtime) -> Any:
    return create_app(settings, runtime=runtime)


_MESSAGE = re.compile(r"<Message>(.*?)</Message>", re.S)


class Phone:
    """A person texting the bot through the signed webhook, like Twilio would deliver it."""

    def __init__(self, client: Any, number: str, token: str = TOKEN, base: str = PUBLIC) -> None:
        self.client = client
        self.number = number
        self.token = token
        self.url = f"{base}/twilio/sms"
        self.replies: list[str] = []
        self.status = 0
        self.sent = 0

    def post(self, params: dict[str, str], signature: str | None) -> Any:
        headers = {} if signature is None else {"X-Twilio-Signature": signature}
        return self.client.post("/twilio/sms", data=params, headers=headers,
                                base_url="https://bot.example.com")  # fmt: skip

    def params(self, body: str, sid: str | None = None, **extra: str) -> dict[str, str]:
        self.sent += 1
        return {
            "MessageSid": sid or f"SM{self.number[-4:]}{self.sent:06d}{id(self) % 9999:04d}",
            "AccountSid": "AC" + "0" * 32,
            "From": self.number,
            "To": CLINIC_NUMBER,
            "Body": body,
            "NumMedia": "0",
            **extra,
        }

    def send(self, body: str, *, sid: str | None = None, **extra: str) -> list[str]:
        params = self.params(body, sid, **extra)
        signature = RequestValidator(self.token).compute_signature(self.url, params)
        response = self.post(params, signature)
        self.status = response.status_code
        self.replies = [unescape(m) for m in _MESSAGE.findall(response.get_data(as_text=True))]
        return self.replies

    @property
    def last_reply(self) -> str:
        return self.replies[-1] if self.replies else ""

    @property
    def said(self) -> str:
        return "\n".join(self.replies)


@pytest.fixture
def phone(app: Any) -> Phone:
    return Phone(app.test_client(), "+19495551234")


@pytest.fixture
def new_phone(app: Any) -> Iterator[Any]:
    numbers = iter(f"+1949555{n:04d}" for n in range(2000, 9999))
    yield lambda: Phone(app.test_client(), next(numbers))


# A complete set of answers that reaches `exercises`; tests change one answer at a time.
EXERCISES_PATH = [
    ("consent", "yes"), ("red_flags", "0"), ("age", "34"), ("injury", "no"),
    ("mechanical", "0"), ("systemic", "0"), ("location", "1"), ("pain_rest", "2"),
    ("pain_run", "3"), ("settles", "yes"), ("duration", "2"), ("calf_stiff", "yes"),
    ("ktw", "L 8 R 12"),
]  # fmt: skip


def answers_with(**changes: str) -> list[tuple[str, str]]:
    return [(qid, changes.get(qid, text)) for qid, text in EXERCISES_PATH]
