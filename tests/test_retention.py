"""Retention: what expires takes its index entries, id maps and jobs along; marks have lifetimes;
a replayed MessageSid never acts again; the consent log of every opt-in, opt-out, re-opt-in."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from twilio.request_validator import RequestValidator

from bot import keys, outbox
from bot.background import Background
from bot.cli import main
from bot.retention import UNREACHABLE_LIFETIME
from bot.runtime import Runtime
from bot.twilio_sender import OPTED_OUT, SendResult
from tests.conftest import EXERCISES_PATH, PUBLIC, TOKEN, Clock, Phone
from tests.test_reminders import book, enrol

GONE, KEPT = "+13105551234", "+13105559999"


def expire(runtime: Runtime, phone: str) -> None:
    """What Redis does when the record's TTL runs out (the test clock cannot move Redis's)."""
    record_ids = runtime.redis.smembers(keys.triages_of(phone))
    runtime.redis.delete(keys.patient(phone), keys.triages_of(phone),
                         *(keys.triage(i) for i in record_ids))  # fmt: skip


def test_expired_records_take_their_index_entries_id_maps_and_jobs_along(
    app: Any, runtime: Runtime, clock: Clock
) -> None:
    gone_id = enrol(runtime, start=date(2026, 12, 1), phone=GONE)
    kept_id = enrol(runtime, start=date(2026, 12, 1), phone=KEPT)
    for number in (GONE, KEPT):
        phone = Phone(app.test_client(), number)
        for text in ("RESTART", *(t for _, t in EXERCISES_PATH)):
            phone.send(text)
    assert len(list(runtime.store.triages())) == 2
    expire(runtime, GONE)
    counts = runtime.retention.sweep(clock())
    assert counts["patients"] == 1 and counts["patient ids"] == 1 and counts["triages"] == 1
    assert not runtime.redis.sismember(keys.PATIENTS, GONE)
    assert runtime.store.find_patient_id(GONE) is None and runtime.store.phone_of(gone_id) is None
    assert [job.id for job in book(runtime).jobs()] == [keys.reminder_job(kept_id)]
    assert runtime.redis.zcard(keys.TRIAGES) == 1
    assert runtime.redis.sismember(keys.PATIENTS, KEPT)
    assert runtime.store.phone_of(kept_id) == KEPT


def test_expired_alerts_leave_the_alert_indexes(app: Any, runtime: Runtime, clock: Clock) -> None:
    phone = Phone(app.test_client(), GONE)
    for text in ("hi", "yes", "1"):
        phone.send(text)
    (ref,) = runtime.alerts.open_refs()
    runtime.redis.delete(keys.alert(ref))
    runtime.retention.sweep(clock())
    assert runtime.alerts.open_refs() == []
    assert runtime.redis.zcard(keys.ALERTS) == 0 and runtime.redis.zcard(keys.ALERT_TIMERS) == 0


def test_an_opt_out_lasts_the_retention_period(app: Any, runtime: Runtime, clock: Clock) -> None:
    phone = Phone(app.test_client(), GONE)
    phone.send("STOP")
    retention = runtime.store.retention
    clock.advance(days=retention.days - 1)
    runtime.retention.sweep(clock())
    assert runtime.store.is_opted_out(GONE)
    clock.advance(days=2)
    runtime.retention.sweep(clock())
    assert not runtime.store.is_opted_out(GONE)
    assert runtime.redis.zscore(keys.OPTED_OUT_AT, GONE) is None


def test_unreachable_marks_last_ninety_days_from_when_they_were_set(
    runtime: Runtime, clock: Clock
) -> None:
    runtime.redis.hset(keys.UNREACHABLE, GONE, "21614")  # as a status callback records it
    runtime.retention.sweep(clock())  # first seen: stamped now
    clock.advance(days=UNREACHABLE_LIFETIME.days - 1)
    runtime.retention.sweep(clock())
    assert runtime.redis.hexists(keys.UNREACHABLE, GONE)
    clock.advance(days=2)
    runtime.retention.sweep(clock())
    assert not runtime.redis.hexists(keys.UNREACHABLE, GONE)


def test_the_sweep_runs_at_most_hourly_across_processes(runtime: Runtime, clock: Clock) -> None:
    runtime.redis.sadd(keys.PATIENTS, GONE)  # an index entry whose record is gone
    runtime.retention.tick(clock())
    assert not runtime.redis.sismember(keys.PATIENTS, GONE)
    runtime.redis.sadd(keys.PATIENTS, GONE)
    runtime.retention.tick(clock())  # another worker, the same hour: nothing
    assert runtime.redis.sismember(keys.PATIENTS, GONE)
    assert 0 < runtime.redis.ttl(keys.RETENTION_LOCK) <= 3600


def test_a_replayed_signed_request_never_acts_again_within_the_retention_period(
    app: Any, runtime: Runtime
) -> None:
    phone = Phone(app.test_client(), GONE)
    phone.send("hi", sid="SM" + "a" * 32)
    ttl = runtime.redis.ttl(keys.message_sid("SM" + "a" * 32))
    assert ttl >= runtime.store.retention.total_seconds() - 60
    assert ttl > timedelta(days=3).total_seconds()  # long after a 48-hour mark would be gone
    params = phone.params("yes", "SM" + "a" * 32)
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}/twilio/sms", params)
    phone.post(params, signature)
    assert runtime.store.load(GONE).conversation.answers == {}


def test_every_consent_change_is_logged_with_its_words_and_what_it_answered(
    app: Any, runtime: Runtime, clock: Clock, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    phone = Phone(app.test_client(), GONE)
    phone.send("hi")
    phone.send("Yes please", sid="SM" + "1" * 32)
    clock.advance(minutes=5)
    phone.send("stop")
    clock.advance(days=2)
    phone.send("START")
    events = runtime.store.consent_log(GONE)
    assert [(e["event"], e["scope"]) for e in events] == [
        ("opt-in", "messages"), ("opt-out", "all"), ("re-opt-in", "all")
    ]  # fmt: skip
    first = events[0]
    assert first["words"] == "Yes please" and first["answering"] == "consent"
    assert first["message_sid"] == "SM" + "1" * 32 and first["channel"] == "sms"
    assert events[1]["at"] < events[2]["at"]
    assert 0 < runtime.redis.ttl(keys.consent(GONE)) <= runtime.store.retention.total_seconds()
    monkeypatch.setattr("bot.runtime.build", lambda *_a, **_k: runtime)
    assert main(["consent", GONE]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and "opt-out" in lines[1] and '"stop"' in lines[1]


def test_whatsapp_consent_is_logged_on_its_channel(app: Any, runtime: Runtime) -> None:
    phone = Phone(app.test_client(), f"whatsapp:{GONE}")
    phone.send("STOP")
    assert [e["channel"] for e in runtime.store.consent_log(GONE)] == ["whatsapp"]


class CarrierOptOut:
    """A sender whose carrier says the number opted out there (Twilio 21610)."""

    def send(self, to: str, body: str) -> SendResult:
        return SendResult(None, OPTED_OUT, permanent=True)

    def find_sent(self, to: str, body: str, since: float) -> str | None:
        return None


def test_a_carrier_opt_out_is_in_the_consent_log(app: Any, runtime: Runtime) -> None:
    Phone(app.test_client(), GONE).send("hi")
    outbox.enqueue(runtime.redis, message_id="notice:1", to=GONE, body="hello", kind="notice")
    background = Background.for_sender(runtime, CarrierOptOut(), rate=None, block_ms=0)
    background.consumer.run_once()
    assert runtime.store.is_opted_out(GONE)
    (event,) = runtime.store.consent_log(GONE)
    assert (event["event"], event["scope"], event["words"]) == (
        "opt-out",
        "all",
        "carrier opt-out (Twilio 21610)",
    )
