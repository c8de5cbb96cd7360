"""Twilio's status callbacks: signed, forward-only, and what each failure code does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from twilio.request_validator import RequestValidator

from bot import keys, outbox
from bot.runtime import Runtime
from tests.conftest import PUBLIC, TOKEN, Clock

URL = f"{PUBLIC}/twilio/status"
PATIENT = "+19495551234"


def callback(app: Any, sid: str, status: str, code: str = "", signed: bool = True) -> int:
    params = {
        "MessageSid": sid,
        "MessageStatus": status,
        "To": PATIENT,
        "AccountSid": "AC" + "0" * 32,
    }
    if code:
        params["ErrorCode"] = code
    headers = (
        {"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(URL, params)}
        if signed
        else {}
    )
    response = app.test_client().post(
        "/twilio/status", data=params, headers=headers, base_url=PUBLIC
    )
    return int(response.status_code)


def sent_message(
    runtime: Runtime, sid: str, message_id: str = "reminder:p1:2026-11-24:reminder"
) -> None:
    runtime.redis.hset(keys.delivery(sid), mapping={"message_id": message_id, "to": PATIENT,
                                                    "body": "Time for today's exercises", "kind": "reminder"})  # fmt: skip


def status(runtime: Runtime, sid: str) -> str:
    return str(runtime.redis.hget(keys.delivery(sid), "status"))


def test_statuses_only_move_forward(app: Any, runtime: Runtime) -> None:
    sent_message(runtime, "SM1")
    assert callback(app, "SM1", "delivered") == 204
    assert callback(app, "SM1", "sent") == 204  # late and out of order
    assert callback(app, "SM1", "queued") == 204
    assert status(runtime, "SM1") == "delivered"
    assert callback(app, "SM1", "delivered") == 204  # duplicates are harmless
    assert status(runtime, "SM1") == "delivered"


def test_unsigned_status_callbacks_are_refused(app: Any, runtime: Runtime) -> None:
    sent_message(runtime, "SM2")
    assert callback(app, "SM2", "failed", "30005", signed=False) == 403
    assert not runtime.redis.hexists(keys.UNREACHABLE, PATIENT)


def test_30005_and_30006_stop_further_messages(app: Any, runtime: Runtime) -> None:
    sent_message(runtime, "SM3")
    assert callback(app, "SM3", "undelivered", "30006") == 204
    assert runtime.redis.hget(keys.UNREACHABLE, PATIENT) == "30006"


def test_30003_is_retried_once_later_within_allowed_hours(
    app: Any, runtime: Runtime, clock: Clock
) -> None:
    clock.now = datetime(2026, 11, 24, 20, 50, tzinfo=ZoneInfo("America/Los_Angeles")).astimezone(
        UTC
    )
    sent_message(runtime, "SM4")
    assert callback(app, "SM4", "undelivered", "30003") == 204
    retry_at = [float(f["not_before"]) for f in outbox.queued(runtime.redis)]
    assert len(retry_at) == 1
    local = datetime.fromtimestamp(retry_at[0], ZoneInfo("America/Los_Angeles"))
    assert (local.date().isoformat(), local.hour, local.minute) == (
        "2026-11-25",
        8,
        0,
    )  # not at 21:20
    sent_message(runtime, "SM5", "reminder:p1:2026-11-24:reminder:retry")  # the retry fails too
    callback(app, "SM5", "undelivered", "30003")
    assert len(outbox.queued(runtime.redis)) == 1  # no second retry


def test_30007_is_never_retried(app: Any, runtime: Runtime) -> None:
    sent_message(runtime, "SM6")
    callback(app, "SM6", "failed", "30007")
    assert not runtime.redis.exists(keys.OUTBOX)
    assert not runtime.redis.hexists(keys.UNREACHABLE, PATIENT)
