"""The Twilio sender through the official SDK against the fake API: retries, errors, routing."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.errors import BotError
from bot.twilio_sender import (
    AmbiguousSendError,
    BaseUrlHttpClient,
    ConsoleSender,
    RetryPolicy,
    SendResult,
    TransientSendError,
    TwilioSender,
    TwilioSettings,
)
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from tests.redis_server import free_port

CLINIC = "+19494091339"
PATIENT = "+19495550101"


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


def make_sender(base_url: str, sleeps: list[float] | None = None, **policy: float) -> TwilioSender:
    settings = TwilioSettings(ACCOUNT_SID, AUTH_TOKEN, from_number=CLINIC, api_base_url=base_url)
    naps = sleeps if sleeps is not None else []
    return TwilioSender(settings, policy=RetryPolicy(**policy), sleep=naps.append, rand=lambda: 1.0)  # type: ignore[arg-type]


def test_a_message_goes_through_the_sdk_to_the_fake(fake: FakeTwilio) -> None:
    result = make_sender(fake.base_url).send(PATIENT, "Time for your knee exercises")

    assert result.sid is not None and result.sid.startswith("SM")
    assert result == SendResult(result.sid)
    assert [(m.to, m.from_, m.body) for m in fake.messages] == [
        (PATIENT, CLINIC, "Time for your knee exercises")
    ]


def test_api_base_url_from_env_routes_the_sdk_to_the_fake_with_basic_auth(fake: FakeTwilio) -> None:
    env = {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
           "TWILIO_FROM_NUMBER": CLINIC, "TWILIO_API_BASE_URL": fake.base_url + "/",
           "PUBLIC_BASE_URL": "https://bot.example.org"}  # fmt: skip
    sender = TwilioSender(TwilioSettings.from_env(env))

    sender.send(PATIENT, "hello")

    method, path, user = fake.requests[-1]
    assert (method, path, user) == ("POST", f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
                                    ACCOUNT_SID)  # fmt: skip
    assert fake.messages[0].status_callback == "https://bot.example.org/twilio/status"


def test_wrong_token_is_refused_by_the_fake_as_a_permanent_error(fake: FakeTwilio) -> None:
    settings = TwilioSettings(ACCOUNT_SID, "wrong", from_number=CLINIC, api_base_url=fake.base_url)
    result = TwilioSender(settings).send(PATIENT, "hello")
    assert result.permanent and result.error_code == 20003
    assert fake.messages == []


def test_every_twilio_host_is_rewritten_and_nothing_else(fake: FakeTwilio) -> None:
    http = BaseUrlHttpClient(fake.base_url)
    for host in ("https://api.twilio.com", "https://api.dublin.ie1.twilio.com"):
        response = http.request("GET", f"{host}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/SM1.json",
                                auth=(ACCOUNT_SID, AUTH_TOKEN))  # fmt: skip
        assert response.status_code == 404 and json.loads(response.text)["code"] == 20404
    assert len(fake.requests) == 2
    with pytest.raises(Exception):  # noqa: B017 - not rewritten, so not answered by the fake
        http.request("GET", "https://api.twilio.com.invalid/x", timeout=1)
    assert len(fake.requests) == 2


def test_client_is_built_lazily() -> None:
    sender = make_sender("http://127.0.0.1:9")
    assert sender._client is None


def test_a_sender_needs_a_from_number_or_a_service() -> None:
    with pytest.raises(BotError):
        TwilioSender(TwilioSettings(ACCOUNT_SID, AUTH_TOKEN))


def test_messaging_service_sid_is_used_when_there_is_no_from_number(fake: FakeTwilio) -> None:
    settings = TwilioSettings(ACCOUNT_SID, AUTH_TOKEN, messaging_service_sid="MG" + "1" * 32,
                              api_base_url=fake.base_url)  # fmt: skip
    TwilioSender(settings).send(PATIENT, "hi")
    assert fake.messages[0].messaging_service_sid == "MG" + "1" * 32
    assert fake.messages[0].from_ is None


def test_a_500_is_retried_and_the_message_recorded_once(fake: FakeTwilio) -> None:
    fake.fail_next(1, status=500, code=20500)
    sleeps: list[float] = []
    result = make_sender(fake.base_url, sleeps).send(PATIENT, "hello")
    assert result.sid is not None
    assert fake.count_to(PATIENT) == 1
    assert sleeps == [0.5]


def test_429_backs_off_exponentially_with_jitter_cap(fake: FakeTwilio) -> None:
    fake.fail_next(3, status=429, code=20429)
    sleeps: list[float] = []
    result = make_sender(fake.base_url, sleeps, max_attempts=4, base_delay=0.5).send(PATIENT, "x")
    assert result.sid is not None
    assert sleeps == [0.5, 1.0, 2.0]
    assert fake.count_to(PATIENT) == 1


def test_full_jitter_stays_under_the_cap() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0)
    assert policy.backoff(10, lambda: 0.999) < 4.0
    assert policy.backoff(0, lambda: 0.0) == 0.0


def test_persistent_5xx_raises_transient_after_the_last_attempt(fake: FakeTwilio) -> None:
    fake.fail_next(5, status=503)
    sleeps: list[float] = []
    with pytest.raises(TransientSendError):
        make_sender(fake.base_url, sleeps, max_attempts=3).send(PATIENT, "x")
    assert len(sleeps) == 2
    assert fake.messages == []


def test_network_errors_are_transient() -> None:
    sleeps: list[float] = []
    with pytest.raises(TransientSendError):
        make_sender(f"http://127.0.0.1:{free_port()}", sleeps, max_attempts=2).send(PATIENT, "x")
    assert len(sleeps) == 1


@pytest.mark.parametrize(
    ("status", "code", "reason"),
    [(400, 21610, "opted_out"), (400, 21211, "unreachable"), (400, 21614, "unreachable"),
     (400, 21408, "rejected"), (403, None, "rejected")],
)  # fmt: skip
def test_4xx_is_permanent_and_never_retried(fake: FakeTwilio, status: int, code: int | None,
                                            reason: str) -> None:  # fmt: skip
    fake.fail_for(PATIENT, status=status, code=code)  # type: ignore[arg-type]
    sleeps: list[float] = []
    result = make_sender(fake.base_url, sleeps).send(PATIENT, "x")
    assert result == SendResult(None, code, permanent=True)
    assert result.reason == reason
    assert sleeps == []


def test_a_lost_answer_is_never_posted_again_but_handed_back(fake: FakeTwilio) -> None:
    fake.slow_next(1, 1.0)  # accepted, but the answer comes after the client gave up
    with pytest.raises(AmbiguousSendError):
        make_sender(fake.base_url, timeout=0.3).send(PATIENT, "only once")
    fake.drop_next(1)  # accepted, then the connection is cut with no answer
    with pytest.raises(AmbiguousSendError):
        make_sender(fake.base_url).send(PATIENT, "only once, too")
    assert fake.bodies_to(PATIENT) == ["only once", "only once, too"]
    assert [m for m, _, _ in fake.requests] == ["POST", "POST"]  # no re-POST, no look-up


def test_find_sent_matches_recipient_body_and_time(fake: FakeTwilio) -> None:
    sender = make_sender(fake.base_url)
    before = time.time() - 1
    sid = sender.send(PATIENT, "reminder").sid
    sender.send("+19495550102", "reminder")

    assert sender.find_sent(PATIENT, "reminder", before) == sid
    assert sender.find_sent(PATIENT, "other text", before) is None
    assert sender.find_sent("+19495550103", "reminder", before) is None
    assert sender.find_sent(PATIENT, "reminder", time.time() + 120) is None
    assert fake.requests[-1][0] == "GET"


def test_logs_carry_neither_bodies_nor_full_numbers(fake: FakeTwilio,
                                                    caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    fake.fail_next(1, status=500)
    with caplog.at_level(logging.DEBUG, logger="bot.twilio_sender"):
        make_sender(fake.base_url).send(PATIENT, "my knee hurts")
    ours = [r.getMessage() for r in caplog.records if r.name == "bot.twilio_sender"]
    assert ours and any("...0101" in line for line in ours)
    assert not any(PATIENT in line or "knee" in line for line in ours)


def test_console_sender_prints_a_masked_number_and_the_body(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = ConsoleSender().send(PATIENT, "Time for your exercises")
    assert capsys.readouterr().out == "[SMS to ...0101] Time for your exercises\n"
    assert result.sid and not result.permanent


def test_fake_runs_standalone_and_records_to_a_file(tmp_path: Path) -> None:
    port, record = free_port(), tmp_path / "sent.jsonl"
    command = [
        sys.executable,
        "-m",
        "tests.fake_twilio",
        "--port",
        str(port),
        "--record",
        str(record),
    ]
    process = subprocess.Popen(command, cwd=Path(__file__).parent.parent, stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        assert "listening" in process.stdout.readline().decode()
        make_sender(f"http://127.0.0.1:{port}").send(PATIENT, "from another process")
        lines = [json.loads(line) for line in record.read_text().splitlines()]
        assert [(x["to"], x["body"]) for x in lines] == [(PATIENT, "from another process")]
    finally:
        process.terminate()
        process.wait(10)
