"""No on-call phone silenced for good or silently: status callbacks for our own messages only,
expiring marks, re-routing, staff START, the worker's warning; 30003 in the plan's zone."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from twilio.request_validator import RequestValidator

from bot import keys, outbox, reach
from bot.background import Background
from bot.core.model import Patient
from bot.outbox import drain
from bot.retention import UNREACHABLE_LIFETIME
from bot.runtime import Runtime
from bot.twilio_sender import SendResult
from bot.worker import unreachable_staff
from bot.writes import Writes
from tests.conftest import PUBLIC, TOKEN, Clock, Phone

ON_CALL = ("+19495550101", "+19495550102")
BACKUP = "+19495550199"
PATIENT = "+19495551234"


def status_callback(app: Any, sid: str, status: str, code: str, to: str) -> int:
    params = {"MessageSid": sid, "MessageStatus": status, "To": to, "ErrorCode": code,
              "AccountSid": "AC" + "0" * 32}  # fmt: skip
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}/twilio/status", params)
    response = app.test_client().post("/twilio/status", data=params, base_url=PUBLIC,
                                      headers={"X-Twilio-Signature": signature})  # fmt: skip
    return int(response.status_code)


class Twilio:
    """Accepts every message except to numbers that refuse with a code."""

    def __init__(self, refuse: dict[str, int] | None = None) -> None:
        self.refuse = refuse or {}
        self.sent: list[tuple[str, str]] = []

    def send(self, to: str, body: str) -> SendResult:
        if to in self.refuse:
            return SendResult(None, self.refuse[to], permanent=True)
        self.sent.append((to, body))
        return SendResult(f"SM{len(self.sent):032d}")

    def find_sent(self, to: str, body: str, since: float) -> str | None:
        return None

    def to(self, number: str) -> list[str]:
        return [body for to, body in self.sent if to == number]


def worker(runtime: Runtime, twilio: Twilio) -> Background:
    return Background.for_sender(runtime, twilio, rate=None, block_ms=0, simulated=True)


def emergency(app: Any, number: str = PATIENT) -> Phone:
    phone = Phone(app.test_client(), number)
    phone.send("I have chest pain and can't breathe")
    return phone


@pytest.mark.parametrize("code", ["21610", "30006", "30005"])
def test_a_signed_callback_for_a_message_we_never_sent_changes_nothing(app: Any, runtime: Runtime,
                                                                       code: str) -> None:  # fmt: skip
    assert status_callback(app, "SMforged0001", "failed", code, ON_CALL[0]) == 204
    assert reach.refusals(runtime.redis, ON_CALL) == {}
    assert not runtime.redis.exists(keys.delivery("SMforged0001"))


def test_a_callback_acts_on_the_stored_recipient_not_the_reported_one(app: Any,
                                                                      runtime: Runtime) -> None:  # fmt: skip
    runtime.redis.hset(keys.delivery("SMours"), mapping={"message_id": "m1", "to": PATIENT,
                                                         "body": "b", "kind": "notice"})  # fmt: skip
    status_callback(app, "SMours", "undelivered", "30006", ON_CALL[0])
    assert reach.refusals(runtime.redis, [*ON_CALL, PATIENT]) == {PATIENT: "30006"}


def test_a_staff_number_refused_by_twilio_is_routed_around_loudly_and_only_for_a_while(
    app: Any, runtime: Runtime, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    twilio = Twilio(refuse={ON_CALL[0]: 21610})
    emergency(app)
    with caplog.at_level(logging.WARNING):
        drain(worker(runtime, twilio).consumer)
    assert len(twilio.to(ON_CALL[1])) == 1 and len(twilio.to(BACKUP)) == 1  # next and backup
    assert "re-routed to ...0199" in caplog.text and "...0101" in caplog.text
    assert not runtime.redis.sismember(keys.OPTED_OUT, ON_CALL[0])  # never a permanent opt-out
    assert runtime.redis.hget(keys.UNREACHABLE, ON_CALL[0]) == "21610"
    runtime.retention.sweep(clock() + UNREACHABLE_LIFETIME + timedelta(days=1))
    assert reach.refusals(runtime.redis, ON_CALL) == {}  # the mark ends


def test_a_lead_for_a_silenced_first_number_goes_to_the_next_and_the_backup(
    app: Any, runtime: Runtime
) -> None:
    reach.mark_refused(runtime.redis, ON_CALL[0], 30006, staff=True, now=0.0)
    phone = Phone(app.test_client(), PATIENT)
    phone.send("hi")
    phone.send("CALL")
    twilio = Twilio()
    drain(worker(runtime, twilio).consumer)
    assert twilio.to(ON_CALL[0]) == []
    assert len(twilio.to(ON_CALL[1])) == 1 and len(twilio.to(BACKUP)) == 1


def test_a_failed_delivery_of_an_alert_is_re_routed_at_once(app: Any, runtime: Runtime) -> None:
    twilio = Twilio()
    emergency(app)
    background = worker(runtime, twilio)
    drain(background.consumer)
    sid = next(keys.text(k).rsplit(":", 1)[1] for k in runtime.redis.scan_iter(
        f"{keys.PREFIX}delivery:*") if runtime.redis.hget(k, "to") == ON_CALL[0])  # fmt: skip
    status_callback(app, sid, "undelivered", "30007", ON_CALL[0])
    drain(background.consumer)
    assert len(twilio.to(BACKUP)) == 1


def test_a_claimed_alert_is_not_re_routed(app: Any, runtime: Runtime) -> None:
    emergency(app)
    [ref] = runtime.alerts.open_refs()
    Phone(app.test_client(), ON_CALL[1]).send(f"ACK {ref}")
    twilio = Twilio(refuse={ON_CALL[0]: 21610})
    drain(worker(runtime, twilio).consumer)
    assert all(ref not in body for body in twilio.to(BACKUP) if "EMERGENCY" in body)


def test_staff_text_start_to_be_reachable_again(app: Any, runtime: Runtime) -> None:
    reach.mark_refused(runtime.redis, ON_CALL[0], 21610, staff=True, now=0.0)
    staff = Phone(app.test_client(), ON_CALL[0])
    staff.send("START")
    assert "Welcome back" in staff.last_reply
    assert reach.refusals(runtime.redis, ON_CALL) == {}
    twilio = Twilio()
    emergency(app)
    drain(worker(runtime, twilio).consumer)
    assert len(twilio.to(ON_CALL[0])) == 1


def test_bot_worker_warns_at_start_about_on_call_numbers_it_cannot_reach(runtime: Runtime) -> None:
    reach.mark_refused(runtime.redis, ON_CALL[1], 30006, staff=True, now=0.0)
    runtime.redis.sadd(keys.OPTED_OUT, BACKUP)
    warnings = unreachable_staff(runtime.redis, ON_CALL, BACKUP)
    assert len(warnings) == 2
    assert "...0102" in warnings[0] and "30006" in warnings[0] and "START" in warnings[0]
    assert "...0199" in warnings[1] and "opted_out" in warnings[1]
    assert all(ON_CALL[1] not in w and BACKUP not in w for w in warnings)  # masked


def test_a_30003_reminder_retry_keeps_to_the_patients_plan_time_zone(
    app: Any, runtime: Runtime, clock: Clock
) -> None:
    """A Californian number whose plan runs on New York time: 20:45 in New York is 17:45 in
    California; the retry 30 minutes later would be 21:15 for the patient, too late."""
    ny = ZoneInfo("America/New_York")
    clock.now = datetime(2026, 11, 24, 20, 45, tzinfo=ny).astimezone(UTC)

    def on_new_york_time(patient: Patient, pipe: Writes) -> None:
        runtime.store.queue_save(pipe, replace(patient, plan={"zone": "America/New_York"}))

    runtime.store.update(PATIENT, on_new_york_time)
    runtime.redis.hset(keys.delivery("SMr"), mapping={"message_id": "reminder:p1:d:reminder",
                                                      "to": PATIENT, "body": "Time!",
                                                      "kind": "reminder"})  # fmt: skip
    status_callback(app, "SMr", "undelivered", "30003", PATIENT)
    [retry] = outbox.queued(runtime.redis)
    due = datetime.fromtimestamp(float(retry["not_before"]), ny)
    deadline = datetime.fromtimestamp(float(retry["not_after"]), ny)
    assert due > deadline or 8 <= due.hour < 21, (due, deadline)  # dropped, never at 21:15
    assert deadline.hour == 21 and deadline.minute == 0
