"""Safety and correctness fixes found in review, each as the scenario that used to go wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from twilio.request_validator import RequestValidator

from bot import keys, outbox
from bot.config import Config
from bot.core.answers import keyword_of, parse_yes_no
from bot.core.engine import advance
from bot.core.model import Alert, Inbound, Patient
from bot.core.plan import Plan
from bot.core.plan_due import reminder_due
from bot.errors import AnswerError
from bot.runtime import Runtime
from bot.settings import Settings
from bot.twilio_sender import whatsapp_from
from tests.conftest import Clock, Phone, answers_with

NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)


def outbox_to(rt: Runtime, number: str) -> list[str]:
    return [f["body"] for f in outbox.queued(rt.redis) if f["to"] == number]


def test_an_opted_out_number_texting_an_emergency_still_reaches_staff(
    phone: Phone, runtime: Runtime
) -> None:
    phone.send("STOP")
    phone.send("my chest hurts and I'm short of breath")
    assert phone.replies == []  # nothing goes back to an opted-out number
    assert any("EMERGENCY" in body for body in outbox_to(runtime, "+19495550101"))


def test_asking_for_a_human_again_later_is_a_new_alert(
    phone: Phone, runtime: Runtime, clock: Clock
) -> None:
    phone.send("hi")
    phone.send("CALL")
    phone.send("CALL")  # at once: the same request
    assert len(outbox_to(runtime, "+19495550101")) == 1
    clock.advance(hours=3)
    phone.send("CALL")
    assert len(outbox_to(runtime, "+19495550101")) == 2


def test_an_emergency_while_on_a_plan_pauses_the_exercise_reminders(
    phone: Phone, runtime: Runtime
) -> None:
    for _, text in [("", "hi"), *answers_with()]:
        phone.send(text)
    phone.send("6pm")
    assert runtime.store.load(phone.number).plan["status"] == "active"
    phone.send("my calf is hot and swollen")
    plan = runtime.store.load(phone.number).plan
    assert (plan["status"], plan["hold"]) == ("paused", "red_flag")
    phone.send("RESUME")
    assert runtime.store.load(phone.number).plan["status"] == "paused"  # until staff clear it


@pytest.mark.parametrize(
    "text", ["not sure", "I don't know", "no idea", "maybe", "idk", "Not sure tbh"]
)
def test_unsure_is_never_read_as_no(text: str) -> None:
    with pytest.raises(AnswerError, match="unsure"):
        parse_yes_no(text)


def test_unsure_about_an_injury_is_asked_again(phone: Phone) -> None:
    for text in ("hi", "yes", "0", "40"):
        phone.send(text)
    phone.send("not sure")
    assert "If you're not sure, reply Y" in phone.last_reply


@pytest.mark.parametrize(
    ("text", "level"),
    [("I have chest-pain", "emergency"), ("I cant breath", "emergency"), ("call 911", "emergency"),
     ("It's hard to breathe", "emergency"),
     # The clinic's rules: a hot swollen calf (red_flags 2) and not bearing weight after a fall
     # (Ottawa: can't take 4 steps) are same-day urgent, not 911.
     ("my calf is hot and swollen", "urgent"), ("I fell and I can't walk", "urgent")],
)  # fmt: skip
def test_more_ways_of_saying_emergency(config: Config, text: str, level: str) -> None:
    patient = advance(Patient("+19495551234"), Inbound("hi"), config.playbook, NOW).patient
    step = advance(patient, Inbound(text), config.playbook, NOW)
    assert [e.level for e in step.effects if isinstance(e, Alert)] == [level]


@pytest.mark.parametrize(
    ("text", "word"), [("OPT-OUT", "optout"), ("un-stop", "unstop"), ("Stop!", "stop")]
)
def test_keywords_ignore_punctuation_inside(text: str, word: str) -> None:
    assert keyword_of(text) == word


def test_the_backup_number_can_acknowledge(app: Any, phone: Phone, runtime: Runtime) -> None:
    for text in ("hi", "yes", "1"):
        phone.send(text)
    ref = outbox_to(runtime, "+19495550101")[0].split("alert ")[1].split(":")[0]
    backup = Phone(app.test_client(), "+19495550199")
    backup.send(f"ACK {ref}")
    assert "is yours" in backup.last_reply


def test_a_9pm_reminder_fired_a_moment_late_still_goes_out(config: Config) -> None:
    from tests.test_plan import enrolled, local

    phone = enrolled("9pm")
    late = local("America/Los_Angeles", 2026, 3, 3, 21) + timedelta(milliseconds=200)
    due = reminder_due(phone.patient, late, settings=config.plan)
    assert due.kind == "reminder", due.reason
    assert Plan.from_json(due.step.patient.plan or {}).last_sent is not None


def test_a_late_check_in_answer_with_a_red_flag_still_counts(config: Config) -> None:
    from tests.test_plan import enrolled, local

    phone = enrolled("8am")
    phone.due(local("America/Los_Angeles", 2026, 3, 8, 8))  # Sunday check-in
    phone.send("4", local("America/Los_Angeles", 2026, 3, 8, 9))  # pain; red flags asked next
    phone.due(local("America/Los_Angeles", 2026, 3, 9, 8))  # Monday's reminder goes out
    phone.send("2", local("America/Los_Angeles", 2026, 3, 9, 9))  # the red-flag answer, late
    assert [a.level for a in phone.alerts] == ["urgent"]


def test_whatsapp_messages_come_from_the_whatsapp_sender() -> None:
    assert whatsapp_from("+19495550000", "whatsapp:+19495551234") == "whatsapp:+19495550000"
    assert whatsapp_from("+19495550000", "+19495551234") == "+19495550000"


def test_a_non_ascii_signature_is_refused_not_a_crash(phone: Phone) -> None:
    assert phone.post(phone.params("hi"), "éabc").status_code == 403


def test_staff_alert_retries_do_not_wait_for_the_morning(
    app: Any, runtime: Runtime, clock: Clock
) -> None:
    clock.now = datetime(2026, 11, 24, 22, 30, tzinfo=ZoneInfo("America/Los_Angeles")).astimezone(
        UTC
    )
    runtime.redis.hset(keys.delivery("SMx"), mapping={"message_id": "alert:K7Q2:+19495550101:initial",
                                                      "to": "+19495550101", "body": "x", "kind": "alert"})  # fmt: skip
    params = {
        "MessageSid": "SMx",
        "MessageStatus": "undelivered",
        "ErrorCode": "30003",
        "To": "+19495550101",
    }
    url = "https://bot.example.com/twilio/status"
    signature = RequestValidator("test-auth-token-0123456789abcdef").compute_signature(url, params)
    app.test_client().post("/twilio/status", data=params, headers={"X-Twilio-Signature": signature},
                           base_url="https://bot.example.com")  # fmt: skip
    queued = outbox.queued(runtime.redis)
    retry = [float(f["not_before"]) for f in queued if f["id"].endswith(":retry")]
    assert retry and retry[0] - clock().timestamp() < 3600


def test_trusted_proxies_is_read_from_the_environment() -> None:
    assert Settings.from_env({"BOT_TRUSTED_PROXIES": "1"}).trusted_proxies == 1


def test_a_reminder_delayed_past_quiet_hours_is_dropped_not_sent(redis_client: Any) -> None:
    from bot.background import CapturingSender
    from bot.outbox import OutboxConsumer, drain, enqueue

    nine_pm = datetime(2026, 11, 24, 21, 0, tzinfo=ZoneInfo("America/Los_Angeles")).timestamp() + 59
    enqueue(redis_client, message_id="r1", to="+19495551234", body="Time for your exercises",
            kind="reminder", not_after=nine_pm)  # fmt: skip
    enqueue(redis_client, message_id="a1", to="+19495550101", body="URGENT alert", kind="alert")
    sender = CapturingSender()
    consumer = OutboxConsumer(redis_client, sender, consumer_name="late", rate=None, block_ms=0,
                              clock=lambda: nine_pm + 1800)  # a backlog: it is 21:30 now  # fmt: skip
    drain(consumer)
    assert [to for to, _ in sender.take()] == ["+19495550101"]  # staff alerts have no deadline


def test_staff_clear_lets_a_red_flag_hold_resume(app: Any, phone: Phone, runtime: Runtime) -> None:
    for text in ("hi", *[t for _, t in answers_with()], "6pm", "my calf is hot and swollen"):
        phone.send(text)
    ref = outbox_to(runtime, "+19495550101")[-1].split("alert ")[1].split(":")[0]
    phone.send("RESUME")
    assert runtime.store.load(phone.number).plan["status"] == "paused"
    staff = Phone(app.test_client(), "+19495550102")
    staff.send(f"CLEAR {ref}")
    assert "can resume" in staff.last_reply
    phone.send("RESUME")
    assert runtime.store.load(phone.number).plan["status"] == "active"


def test_web_reminder_invites_go_only_to_the_clinics_country_and_carry_no_answers(
    runtime: Runtime,
) -> None:
    service, now, web = runtime.service, runtime.clock(), "web:visitor77"
    for text in ("hi", *[t for _, t in answers_with()]):
        service.handle_inbound(web, Inbound(text, "web"), now)
    replies = service.handle_inbound(web, Inbound("+44 7911 123456", "web"), now).replies
    assert "US mobile number" in replies[0]
    assert not runtime.redis.exists(keys.patient("+447911123456"))
    service.handle_inbound(web, Inbound("(949) 555-0166", "web"), now)
    assert runtime.store.load("+19495550166").conversation.answers == {}


def test_a_failed_escalation_keeps_its_timer(phone: Phone, runtime: Runtime, clock: Clock) -> None:
    for text in ("hi", "yes", "1"):
        phone.send(text)
    clock.advance(minutes=10)
    real = runtime.alerts.redis.evalsha

    def broken(*args: Any) -> None:  # the batch with the timer and its messages fails
        import redis

        raise redis.ConnectionError("Redis went away mid-escalation")

    runtime.alerts.redis.evalsha = broken  # type: ignore[method-assign]
    assert runtime.alerts.run_timers(clock()) == 0  # failed, logged, nothing lost
    runtime.alerts.redis.evalsha = real  # type: ignore[method-assign]
    assert runtime.alerts.run_timers(clock()) == 1  # the re-send still happens


def test_forget_also_deletes_spooled_messages_of_that_number(tmp_path: Any) -> None:
    from bot.spool import Spool, Spooled

    spool = Spool(tmp_path)
    spool.put(Spooled("+19495551234", Inbound("my knee"), NOW, "SM1"))
    spool.put(Spooled("+19495559876", Inbound("hello"), NOW, "SM2"))
    spool.set_aside(spool.put(Spooled("+19495551234", Inbound("again"), NOW, "SM3")))
    assert spool.forget("+19495551234") == 2
    left = [spool.read(p).phone for p in spool.pending()]
    assert left == ["+19495559876"]
    assert not list((tmp_path / "failed").glob("*"))


def test_a_reminder_retried_after_a_timeout_keeps_its_quiet_hours_deadline(
    redis_client: Any,
) -> None:
    from bot.background import CapturingSender
    from bot.outbox import OutboxConsumer, drain, enqueue
    from bot.twilio_sender import TransientSendError

    deadline = (
        datetime(2026, 11, 24, 21, 0, tzinfo=ZoneInfo("America/Los_Angeles")).timestamp() + 59
    )
    now = [deadline - 300]  # 20:55: the first try times out

    class FlakyThenFine(CapturingSender):
        calls = 0

        def send(self, to: str, body: str) -> Any:
            FlakyThenFine.calls += 1
            if FlakyThenFine.calls == 1:
                raise TransientSendError("timeout")
            return super().send(to, body)

    sender = FlakyThenFine()
    consumer = OutboxConsumer(redis_client, sender, consumer_name="c", rate=None, block_ms=0,
                              clock=lambda: now[0])  # fmt: skip
    enqueue(redis_client, message_id="r", to="+19495551234", body="Exercises", kind="reminder",
            not_after=deadline)  # fmt: skip
    drain(consumer)
    now[0] = deadline + 3600  # the retry comes due at 22:00
    drain(consumer)
    assert sender.take() == []


def test_only_the_red_flag_question_stays_open_so_skip_still_means_skip(config: Config) -> None:
    from tests.test_plan import enrolled, local

    la = "America/Los_Angeles"
    phone = enrolled("8am")
    phone.due(local(la, 2026, 3, 22, 8))  # the week-3 check-in
    phone.send("4", local(la, 2026, 3, 22, 9))
    phone.send("0", local(la, 2026, 3, 22, 9, 1))
    assert phone.templates[-1] == "plan_checkin_ktw"  # left unanswered
    phone.due(local(la, 2026, 3, 23, 8))  # Monday's reminder
    phone.send("SKIP", local(la, 2026, 3, 23, 9))
    assert phone.plan.log.get("2026-03-23") == "skipped"


def test_an_ended_plan_stays_ended_after_a_red_flag(config: Config) -> None:
    from bot.core.plan import hold_for_red_flag
    from tests.test_plan import enrolled

    plan = enrolled("8am").plan.to_json() | {"status": "ended"}
    assert hold_for_red_flag(plan)["status"] == "ended"


def test_a_web_emergency_stops_escalating_once_the_number_arrives(
    runtime: Runtime, clock: Clock
) -> None:
    service, web = runtime.service, "web:visitor99"
    for text in ("hi", "yes", "1", "(949) 555-0144"):
        service.handle_inbound(web, Inbound(text, "web"), clock())
    statuses = sorted(a["status"] for a in runtime.alerts.listing())
    assert statuses == ["open", "superseded"]
    clock.advance(minutes=10)
    runtime.alerts.run_timers(clock())
    resent = [f for f in outbox.queued(runtime.redis) if "REMINDER" in f["body"]]
    assert all("+19495550144" in f["body"] for f in resent) and len(resent) == 2


def test_clear_is_refused_for_a_number_a_web_visitor_typed(
    app: Any, runtime: Runtime, clock: Clock
) -> None:
    service, web = runtime.service, "web:visitor98"
    for text in ("hi", "yes", "1", "(949) 555-0145"):
        service.handle_inbound(web, Inbound(text, "web"), clock())
    ref = next(a["ref"] for a in runtime.alerts.listing() if a["status"] == "open")
    staff = Phone(app.test_client(), "+19495550101")
    staff.send(f"CLEAR {ref}")
    assert "No alert" in staff.last_reply


def test_forget_matches_the_spooled_sender_exactly(tmp_path: Any) -> None:
    from bot.spool import Spool, Spooled

    spool = Spool(tmp_path)
    spool.put(Spooled("+19495559876", Inbound("call me at +19495551234"), NOW, "SM1"))
    assert spool.forget("+19495551234") == 0
    assert spool.depth() == 1


def test_without_a_first_ankle_measurement_progress_is_not_called_slow(config: Config) -> None:
    from tests.test_plan import enrolled, local

    la = "America/Los_Angeles"
    phone = enrolled("8am", ktw={"skipped": True}, pain_run=None)
    phone.due(local(la, 2026, 3, 22, 8))
    phone.send("4", local(la, 2026, 3, 22, 9))
    phone.send("0", local(la, 2026, 3, 22, 9, 1))
    phone.send("L 10 R 11", local(la, 2026, 3, 22, 9, 2))
    assert "measure it with you" in phone.last
    assert "slower" not in phone.last
