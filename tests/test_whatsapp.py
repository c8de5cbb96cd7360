"""WhatsApp done right: a patient on WhatsApp through a 21-day plan with silences of 2-3 days,
every reminder by the right route exactly once, against a fake Twilio that keeps the 24-hour
rule; the fallbacks (template, SMS, counted drop); one person and one opt-out across channels;
quick-reply buttons."""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import fakeredis
import pytest
import yaml
from twilio.request_validator import RequestValidator

from bot import keys
from bot.background import Background
from bot.config import load_config
from bot.core.plan import END, Plan, due_local_dates
from bot.outbox import Entry, queued
from bot.plan_status import plan_statuses
from bot.runtime import Runtime, build
from bot.settings import ROOT, Settings
from bot.twilio_sender import TwilioSender, TwilioSettings
from bot.web import create_app
from tests.conftest import CLINIC_NUMBER, EXERCISES_PATH, PUBLIC, TOKEN, Clock, Phone
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

NUMBER = "+13105551234"  # Los Angeles
WA = f"whatsapp:{NUMBER}"
LA = ZoneInfo("America/Los_Angeles")
KINDS = ("reminder", "checkin", "nudge", "plan_end", "staff_reply")
SIDS = {kind: "HX" + f"{i:x}" * 32 for i, kind in enumerate(KINDS, start=1)}


def whatsapp_config(tmp_path: Path, *, enabled: bool = True,
                    without: tuple[str, ...] = ()) -> Path:  # fmt: skip
    """The shipped config with WhatsApp switched on and a Content SID for each template."""
    target = tmp_path / "config"
    shutil.copytree(ROOT / "config", target)
    path = target / "whatsapp.yaml"
    data = yaml.safe_load(path.read_text())
    data["enabled"] = enabled
    for kind, by_lang in data["templates"].items():
        by_lang["en"]["content_sid"] = "" if kind in without else SIDS[kind]
    path.write_text(yaml.safe_dump(data))
    return target


@dataclass
class World:
    rt: Runtime
    app: Any
    fake: FakeTwilio
    clock: Clock
    background: Background

    def phone(self, number: str) -> Phone:
        return Phone(self.app.test_client(), number)

    def say(self, phone: Phone, text: str, **extra: str) -> list[str]:
        """The person writes; Twilio's side sees the WhatsApp window open too."""
        if phone.number.startswith("whatsapp:"):
            self.fake.inbound(phone.number)
        return phone.send(text, **extra)

    def send_outbox(self) -> None:
        self.background.consumer.clock = lambda: self.clock.now.timestamp()
        while self.background.consumer.run_once():
            pass

    def run_jobs_until(self, end: datetime) -> datetime | None:
        """Fire the next due reminder job at its instant (at most one); None when none is due."""
        book: Any = self.rt.reminders.jobs
        due = book.store.get_next_run_time()
        if due is None or due > end:
            return None
        self.clock.now = due
        book.run_due(due, self.rt.reminders.fire)
        self.send_outbox()
        return due


@pytest.fixture
def make_world(tmp_path: Path, settings: Settings) -> Iterator[Any]:
    fakes: list[FakeTwilio] = []

    def make(config_dir: Path, start: datetime = datetime(2026, 6, 1, 17, tzinfo=UTC)) -> World:
        clock = Clock(start)
        fake = FakeTwilio().start()
        fakes.append(fake)
        fake.clock = lambda: clock.now.timestamp()
        config = load_config(config_dir)
        for (_kind, _lang), template in config.whatsapp.templates.items():
            if template.content_sid:
                fake.approve(template.content_sid, template.body)
        rt = build(settings, client=fakeredis.FakeRedis(decode_responses=True), clock=clock,
                   config=config)  # fmt: skip
        sender = TwilioSender(TwilioSettings(ACCOUNT_SID, AUTH_TOKEN, from_number=CLINIC_NUMBER,
                                             api_base_url=fake.base_url))  # fmt: skip
        background = Background.for_sender(rt, sender, rate=None, block_ms=0)
        return World(rt, create_app(settings, runtime=rt), fake, clock, background)

    yield make
    for fake in fakes:
        fake.stop()


def enrol(world: World, phone: Phone, at: str = "9am") -> Plan:
    for _qid, text in [("hi", "hi"), *EXERCISES_PATH]:
        world.say(phone, text)
    world.say(phone, at)
    assert "You're set" in phone.said, phone.said
    plan = world.rt.store.load(NUMBER).plan
    assert plan is not None and plan["status"] == "active"
    return Plan.from_json(plan)


def sent_to(fake: FakeTwilio, *numbers: str) -> list[Any]:
    with fake._lock:
        return [m for m in fake.messages if m.to in numbers and m.error_code is None]


# --- three weeks on WhatsApp -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("templates", "refusal"), [(True, "rest"), (True, "callback"), (False, "rest")]
)
def test_three_weeks_on_whatsapp_with_silences_every_reminder_once_by_the_right_route(
    make_world: Any, tmp_path: Path, templates: bool, refusal: str
) -> None:
    """With templates, outside the window each message goes as its template; without them, by
    SMS to a patient who texted by SMS once before moving to WhatsApp."""
    world = make_world(whatsapp_config(tmp_path, enabled=templates,
                                       without=() if templates else KINDS))  # fmt: skip
    world.fake.window_refusal = refusal
    if not templates:
        world.say(world.phone(NUMBER), "hi")
        world.clock.advance(minutes=10)
    patient = world.phone(WA)
    plan = enrol(world, patient)
    expected = {day: kind for day, kind in due_local_dates(plan)}
    # Answers after some messages; silences of 2 and 3 days in between (no answer at all).
    silent = {plan.start + timedelta(days=d) for d in (2, 3, 7, 8, 9, 13, 14, 18, 19, 20)}
    last_inbound, seen, routes = world.clock.now, 0, Counter[str]()
    per_day = Counter[Any]()
    end = datetime.combine(plan.start + timedelta(days=plan.days + 2), datetime.min.time(), LA)
    while (fired := world.run_jobs_until(end)) is not None:
        day = fired.astimezone(LA).date()
        window = fired - last_inbound < timedelta(hours=24)
        closed = "template" if templates else "sms"
        for message in sent_to(world.fake, WA, NUMBER)[seen:]:  # what this job sent
            per_day[day] += 1
            route = "sms" if message.to == NUMBER else "template" if message.content_sid else "free"
            assert route == ("free" if window else closed), (day, window, message)
            routes[route] += 1
        seen = len(sent_to(world.fake, WA, NUMBER))
        if day in silent or expected.get(day) == END:
            continue
        world.clock.advance(hours=1)
        world.say(patient, "3" if expected.get(day) == "checkin" else "DONE")
        last_inbound = world.clock.now
    assert dict(per_day) == {day: 1 for day in expected}  # every message, each exactly once
    assert routes["free"] >= 7 and routes["template" if templates else "sms"] >= 7
    assert world.fake.refused() == []  # the bot knew the window: WhatsApp refused nothing
    assert world.rt.store.load(NUMBER).plan["status"] == "ended"
    assert plan_statuses(world.rt.store, world.clock.now)[0].undelivered == 0


# --- the window closes between deciding and sending: WhatsApp refuses, the template goes ------


def first_reminder_queued(world: World, patient: Phone) -> datetime:
    """Enrol (the window opens now) and let the first reminder be queued, free-form, inside it."""
    enrol(world, patient)
    book: Any = world.rt.reminders.jobs
    due = book.store.get_next_run_time()
    assert due - world.clock.now < timedelta(hours=24)
    world.clock.now = due
    book.run_due(due, world.rt.reminders.fire)
    return due


def status_callback(world: World, sid: str, to: str, code: int, status: str = "failed") -> int:
    params = {"MessageSid": sid, "MessageStatus": status, "To": to, "ErrorCode": str(code),
              "AccountSid": ACCOUNT_SID}  # fmt: skip
    url = f"{PUBLIC}/twilio/status"
    signature = RequestValidator(TOKEN).compute_signature(url, params)
    response = world.app.test_client().post("/twilio/status", data=params, base_url=PUBLIC,
                                            headers={"X-Twilio-Signature": signature})  # fmt: skip
    return int(response.status_code)


def test_a_63016_answer_is_retried_as_the_template_once(make_world: Any, tmp_path: Path) -> None:
    world = make_world(whatsapp_config(tmp_path))
    first_reminder_queued(world, world.phone(WA))
    world.clock.advance(hours=2)  # a backlog: the window closed before the send
    world.send_outbox()
    [message] = sent_to(world.fake, WA)
    assert message.content_sid == SIDS["reminder"]
    assert json.loads(message.content_variables) == {"1": "Impact PT", "2": "1", "3": "18"}
    assert message.body.startswith(
        "Time for today's home exercises from Impact PT (exercise day 1 of 18)"
    )
    world.send_outbox()
    assert len(sent_to(world.fake, WA)) == 1


def test_a_63016_status_callback_is_retried_as_the_template_once(
    make_world: Any, tmp_path: Path
) -> None:
    world = make_world(whatsapp_config(tmp_path))
    world.fake.window_refusal = "callback"  # accepted, then failed as outside the window
    first_reminder_queued(world, world.phone(WA))
    world.clock.advance(hours=2)
    world.send_outbox()
    [refused] = world.fake.refused()
    for _ in range(2):  # Twilio may call back twice: one template
        assert status_callback(world, refused.sid, WA, 63016) == 204
        world.send_outbox()
    [message] = sent_to(world.fake, WA)
    assert message.content_sid == SIDS["reminder"]


def test_a_template_retried_after_30003_stays_a_template(make_world: Any, tmp_path: Path) -> None:
    world = make_world(whatsapp_config(tmp_path))
    first_reminder_queued(world, world.phone(WA))
    world.clock.advance(hours=2)
    world.send_outbox()
    [template] = sent_to(world.fake, WA)
    assert status_callback(world, template.sid, WA, 30003, "undelivered") == 204
    world.clock.advance(minutes=31)
    world.send_outbox()
    assert [m.content_sid for m in sent_to(world.fake, WA)] == [SIDS["reminder"]] * 2


# --- no template: SMS when the person texted by SMS too, else dropped and counted -------------


def test_without_a_template_it_goes_by_sms_when_they_also_texted_by_sms(
    make_world: Any, tmp_path: Path
) -> None:
    world = make_world(whatsapp_config(tmp_path, enabled=False, without=KINDS))
    world.say(world.phone(NUMBER), "HELP")  # texted by SMS once: SMS consent
    world.clock.advance(minutes=5)
    first_reminder_queued(world, world.phone(WA))
    world.clock.advance(hours=2)
    world.send_outbox()
    assert sent_to(world.fake, WA) == []
    [sms] = sent_to(world.fake, NUMBER)
    assert "day 1 of 18" in sms.body and sms.content_sid is None


def test_without_a_template_or_sms_it_is_dropped_logged_and_counted(
    make_world: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    world = make_world(whatsapp_config(tmp_path, enabled=False, without=KINDS))
    patient = world.phone(WA)
    plan = enrol(world, patient)
    end = datetime.combine(plan.start + timedelta(days=4), datetime.min.time(), LA)
    while world.run_jobs_until(end) is not None:
        pass
    # Day 1 was inside the window (free-form); days 2-4 are outside, with nowhere to go.
    assert len(sent_to(world.fake, WA, NUMBER)) == 1
    [row] = plan_statuses(world.rt.store, world.clock.now)
    assert row.undelivered == 3 and row.last_undelivered.startswith("reminder ")
    assert "UNDELIVERED 3" in row.line()
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert dropped and all(NUMBER not in line and "1234" in line for line in dropped)
    world.clock.advance(hours=3)
    world.say(patient, "DONE")  # back: the window is open, the next one goes free-form
    world.run_jobs_until(end + timedelta(days=1))
    assert len(sent_to(world.fake, WA)) == 2


# --- one person, one opt-out, across channels ---------------------------------------------------


def test_stop_on_sms_stops_whatsapp_and_start_on_whatsapp_starts_both(
    make_world: Any, tmp_path: Path
) -> None:
    world = make_world(whatsapp_config(tmp_path))
    whatsapp, sms = world.phone(WA), world.phone(NUMBER)
    plan = enrol(world, whatsapp)
    assert world.say(sms, "Stop") == [
        "You're unsubscribed from Impact PT and won't get more messages. Reply START to opt back in."
    ]
    assert world.say(whatsapp, "DONE") == []  # one person: WhatsApp is opted out too
    assert world.say(sms, "hello") == []
    end = datetime.combine(plan.start + timedelta(days=3), datetime.min.time(), LA)
    while world.run_jobs_until(end) is not None:
        pass
    assert sent_to(world.fake, WA, NUMBER) == []  # no reminder by either route
    assert "opted back in" in world.say(whatsapp, "START")[0]
    assert world.rt.store.load(NUMBER).opted_out is False
    assert "Impact Physical Therapy" in world.say(sms, "hi")[0]  # SMS is back: a greeting


def test_stop_on_whatsapp_stops_sms_and_the_queued_messages(
    make_world: Any, tmp_path: Path
) -> None:
    world = make_world(whatsapp_config(tmp_path))
    whatsapp, sms = world.phone(WA), world.phone(NUMBER)
    world.say(sms, "hi")
    first_reminder_queued(world, whatsapp)  # a reminder waits in the outbox
    assert "unsubscribed" in world.say(whatsapp, "unsubscribe")[0]
    world.send_outbox()
    assert sent_to(world.fake, WA, NUMBER) == []
    assert world.say(sms, "are you there?") == []


def test_each_proactive_message_follows_the_last_used_channel(
    make_world: Any, tmp_path: Path
) -> None:
    world = make_world(whatsapp_config(tmp_path))
    whatsapp, sms = world.phone(WA), world.phone(NUMBER)
    plan = enrol(world, whatsapp)
    day = datetime.combine(plan.start, datetime.min.time(), LA)
    assert world.run_jobs_until(day + timedelta(days=1))  # day 1: by WhatsApp, as enrolled
    world.clock.advance(hours=2)
    assert "Logged" in world.say(sms, "done")[0]  # answered by SMS
    assert world.run_jobs_until(day + timedelta(days=2))  # day 2: by SMS
    world.clock.advance(hours=2)
    world.say(whatsapp, "done")  # back on WhatsApp
    assert world.run_jobs_until(day + timedelta(days=3))  # day 3: WhatsApp again
    by_route = [(m.to, "day" in m.body) for m in sent_to(world.fake, WA, NUMBER)]
    assert by_route == [(WA, True), (NUMBER, True), (WA, True)]


def test_staff_alerts_always_go_by_sms(make_world: Any, tmp_path: Path, settings: Settings) -> None:
    world = make_world(whatsapp_config(tmp_path))
    staff = world.phone(f"whatsapp:{settings.staff_alert_numbers[0]}")
    world.say(staff, "OPEN")  # a staff member who writes from WhatsApp
    patient = world.phone(WA)
    world.say(patient, "I have chest pain and can't breathe")
    world.send_outbox()
    alerts = [m for m in world.fake.messages if "ACK" in m.body or "alert" in m.body.lower()]
    assert {m.to for m in alerts} == set(settings.staff_alert_numbers)  # plain numbers: SMS


def test_the_callback_notice_outside_the_window_goes_as_the_staff_reply_template(
    make_world: Any, tmp_path: Path, settings: Settings
) -> None:
    world = make_world(whatsapp_config(tmp_path))
    patient = world.phone(WA)
    world.say(patient, "CALL")
    ref = world.rt.alerts.open_refs()[0]
    world.clock.advance(hours=30)  # staff claim it the next day: the window has closed
    world.say(world.phone(settings.staff_alert_numbers[0]), f"ACK {ref}")
    world.send_outbox()
    [notice] = sent_to(world.fake, WA)
    assert notice.content_sid == SIDS["staff_reply"]
    assert "our team will call you shortly" in notice.body


# --- quick-reply buttons --------------------------------------------------------------------------


def test_tapping_done_or_skip_on_the_template_is_read_like_typing_it(
    make_world: Any, tmp_path: Path
) -> None:
    world = make_world(whatsapp_config(tmp_path))
    patient = world.phone(WA)
    plan = enrol(world, patient)
    day = datetime.combine(plan.start, datetime.min.time(), LA)
    world.run_jobs_until(day + timedelta(days=1))  # day 1 inside the window; no answer
    world.run_jobs_until(day + timedelta(days=2))
    [template] = [m for m in sent_to(world.fake, WA) if m.content_sid]
    assert template.content_sid == SIDS["reminder"]
    world.clock.advance(hours=1)
    tapped = world.say(patient, "Done", ButtonText="Done", ButtonPayload="DONE")
    assert tapped[0].startswith("Logged, nice work!")
    stored = world.rt.store.load(NUMBER)
    assert list(Plan.from_json(stored.plan or {}).log.values()) == ["no_reply", "done"]
    world.clock.advance(hours=1)
    skipped = world.say(patient, "Skip today", ButtonText="Skip today", ButtonPayload="SKIP")
    assert skipped[0].startswith("Skipped for today")
    assert world.run_jobs_until(day + timedelta(days=3))  # the taps reopened the window
    assert sent_to(world.fake, WA)[-1].content_sid is None


# --- the templates are clinic content ---------------------------------------------------------


def check(config_dir: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from bot.cli import main

    code = main(["check-config", "--config-dir", str(config_dir)])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_check_config_fails_while_an_enabled_kind_has_no_template(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = check(whatsapp_config(tmp_path, without=("nudge",)), capsys)
    assert code == 1
    assert "nudge [en] has no approved template" in out
    assert "templates.nudge.en.content_sid" in out
    assert "body: Hello from {{1}}: we haven't heard from you" in out  # what to submit
    code, out = check(whatsapp_config(tmp_path / "all"), capsys)
    assert code == 0, out
    assert "quick-reply buttons: Done (id DONE), Skip today (id SKIP)" in out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"content_sid": "HX123"}, "is not a Content SID"),
        ({"body": "Day {{1}} of {{2}} from us."}, "must name the same numbers"),
        ({"variables": {"1": "clinic_name", "2": "pain", "3": "days"}}, "has no value pain"),
        ({"body": "{{1}}: day {{2}} of {{3}}."}, "starts or ends with a variable"),
        ({"buttons": [{"id": "MAYBE", "title": "Maybe"}]}, "not keywords the bot understands"),
    ],
)  # fmt: skip
def test_a_broken_template_fails_at_load_naming_the_key(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    from bot.errors import ConfigError

    config_dir = whatsapp_config(tmp_path)
    path = config_dir / "whatsapp.yaml"
    data = yaml.safe_load(path.read_text())
    data["templates"]["reminder"]["en"].update(change)
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=message) as err:
        load_config(config_dir)
    assert "whatsapp.yaml: key `templates.reminder.en" in str(err.value)


def test_a_language_in_use_needs_every_kind(tmp_path: Path) -> None:
    config_dir = whatsapp_config(tmp_path)
    path = config_dir / "whatsapp.yaml"
    data = yaml.safe_load(path.read_text())
    data["languages"] = ["en", "es"]
    path.write_text(yaml.safe_dump(data))
    missing = load_config(config_dir).whatsapp.missing()
    assert missing == [(kind, "es") for kind in KINDS]


def test_the_window_and_channels_survive_a_save(make_world: Any, tmp_path: Path) -> None:
    world = make_world(whatsapp_config(tmp_path))
    world.say(world.phone(NUMBER), "hi")
    world.clock.advance(minutes=1)
    world.say(world.phone(WA), "hello")
    stored = world.rt.store.load(NUMBER)
    assert set(stored.last_inbound) == {"sms", "whatsapp"}
    assert stored.last_inbound["whatsapp"] == world.clock.now
    assert world.rt.redis.exists(keys.patient(NUMBER))


def test_a_worker_that_died_after_sending_the_template_is_not_repeated(
    make_world: Any, tmp_path: Path
) -> None:
    world = make_world(whatsapp_config(tmp_path))
    first_reminder_queued(world, world.phone(WA))  # queued free-form, template as fallback
    world.clock.advance(hours=2)
    [fields] = queued(world.rt.redis)  # the reminder, waiting in the outbox
    entry = Entry.from_fields(fields)
    # A worker began the send, was refused, sent the template, and died before recording it.
    world.rt.redis.set(keys.outbox_sending(entry.message_id), repr(world.clock.now.timestamp()))
    template = entry.next_route()
    assert template is not None and template.content
    world.background.consumer.sender.send_content(template.to, template.content, template.body)
    world.clock.advance(minutes=5)
    world.send_outbox()  # another worker reconciles against Twilio's log first
    assert len(sent_to(world.fake, WA)) == 1
    assert world.rt.redis.exists(keys.outbox_sent(entry.message_id))


def test_a_button_id_that_is_not_a_word_falls_back_to_its_label() -> None:
    from bot.whatsapp import quick_reply

    assert quick_reply({"ButtonPayload": "DONE", "Body": "Done"}) == "DONE"
    assert quick_reply({"ButtonPayload": "btn-7f3a", "Body": "Skip today"}) is None
    assert quick_reply({"Body": "done"}) is None


def test_an_approved_template_is_used_before_whatsapp_is_enabled(
    make_world: Any, tmp_path: Path
) -> None:
    config_dir = whatsapp_config(tmp_path, enabled=False, without=KINDS[1:])  # reminder only
    world = make_world(config_dir)
    first_reminder_queued(world, world.phone(WA))
    world.clock.advance(hours=2)
    world.send_outbox()
    assert [m.content_sid for m in sent_to(world.fake, WA)] == [SIDS["reminder"]]


def test_the_whatsapp_example_transcript(settings: Settings) -> None:
    """examples/whatsapp.txt in `bot chat`: WhatsApp in the window, SMS outside, one STOP."""
    import io

    from bot.simulator import run_chat

    out = io.StringIO()
    embedded = Settings(redis_url=None, config_dir=ROOT / "config")
    tuesday_noon = datetime(2026, 6, 2, 19, tzinfo=UTC)  # in Los Angeles; the plan starts Wednesday
    run_chat(embedded, "+13105550199", str(ROOT / "examples" / "whatsapp.txt"), out=out,
             start=tuesday_noon)  # fmt: skip
    text = out.getvalue()
    sent = [
        line for line in text.splitlines() if line.startswith(("[WhatsApp to you]", "[SMS to you]"))
    ]
    assert [line.split("]")[0] + "]" for line in sent] == [
        "[WhatsApp to you]", "[SMS to you]", "[SMS to you]", "[WhatsApp to you]",
    ]  # fmt: skip
    assert "unsubscribed" in text and text.rstrip().endswith(")")  # nothing after STOP
