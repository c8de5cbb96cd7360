"""The reminder plan (bot.core.plan): enrolment, commands, check-ins, schedule across DST."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.answers import keyword_of
from bot.core.model import DONE, REMINDER_OFFER, Alert, Conversation, Patient, Reply, Step
from bot.core.plan import (
    ACTIVE,
    CHECKIN,
    END,
    ENDED,
    PAUSED,
    REMINDER,
    TEMPLATES,
    Plan,
    PlanSettings,
    due_local_dates,
    next_due,
    release_hold,
)
from bot.core.plan_due import reminder_due
from bot.core.plan_replies import plan_replies as core_plan_replies
from tests.plan_phone import PlanView

LA, NY = "America/Los_Angeles", "America/New_York"
PHONE_LA, PHONE_NY, PHONE_UK = "+19494091339", "+12125551234", "+442071234567"
SETTINGS = PlanSettings(
    clinic_zone=LA,
    time_words={"morning": "08:00", "noon": "12:00", "evening": "18:00", "night": "20:00"},
)
TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "sms"
CLINIC = SimpleNamespace(
    name="Impact Physical Therapy and Performance", short_name="Impact PT",
    phone_display="(949) 409-1339", booking_url="https://example.test/book",
)  # fmt: skip
ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(reply: Reply) -> str:
    context = {"clinic": CLINIC, "exercises": [], **reply.context}
    return ENV.get_template(f"{reply.template}.j2").render(context)


def local(zone: str, y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """A UTC instant from a local wall time."""
    return datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(zone)).astimezone(UTC)


class Phone(PlanView):
    """A patient texting the plan, transcript style; every reply is rendered (StrictUndefined)."""

    def __init__(self, phone: str = PHONE_LA, answers: dict[str, Any] | None = None) -> None:
        conv = Conversation(step=REMINDER_OFFER, outcome="exercises", answers=answers or {})
        self.patient = Patient(phone, conversation=conv)
        self.step = Step(self.patient)
        self.texts: list[str] = []

    def send(self, text: str, now: datetime) -> Phone:
        self.step = core_plan_replies(self.patient, keyword_of(text), text, now, settings=SETTINGS)
        return self._took(self.step)

    def due(self, now: datetime) -> Any:
        result = reminder_due(self.patient, now, settings=SETTINGS)
        self._took(result.step)
        return result

    def _took(self, step: Step) -> Phone:
        self.patient = step.patient
        self.step = step
        self.texts = [render(r) for r in step.replies]
        return self

    @property
    def last(self) -> str:
        return self.texts[-1]


MONDAY_NOON = local(LA, 2026, 3, 2, 12)  # a Monday


def enrolled(at: str = "7pm", now: datetime = MONDAY_NOON, psfs: tuple[str, ...] = ("skip",),
             **answers: Any) -> Phone:  # fmt: skip
    """Enrolled at `at`; the PSFS question after enrolment answered with `psfs` (SKIP)."""
    phone = Phone(answers={"pain_run": 4, "ktw": {"left": 8.0, "right": 11.0}} | answers)
    phone.send(at, now)
    assert phone.templates == ["plan_enrolled", "plan_psfs_activity"], phone.texts
    for text in psfs:
        phone.send(text, now)
    return phone


# --- enrolment ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("7pm", "19:00"),
        ("7:30 pm", "19:30"),
        ("6:30", "18:30"),
        ("9am", "09:00"),
        ("time 6pm", "18:00"),
        ("morning", "08:00"),
        ("21:00", "21:00"),
        ("6am", "08:00"),  # early morning moves to the start of the sending window
        ("7", "19:00"),  # a bare hour: 7 am is before the window, 7 pm is inside it
        ("10pm", "21:00"),  # outside the window: the nearest allowed time
        ("midnight", "21:00"),
        ("3am", "08:00"),
    ],
)
def test_a_time_enrols(text: str, stored: str) -> None:
    phone = Phone().send(text, MONDAY_NOON)
    assert phone.templates == ["plan_enrolled", "plan_psfs_activity"]
    assert phone.patient.plan is not None and phone.patient.plan["time"] == stored
    assert phone.patient.conversation.step == DONE
    assert phone.plan.status == ACTIVE and phone.plan.days == 21


@pytest.mark.parametrize(
    ("text", "template", "step"),
    [
        ("no", "plan_declined", DONE),
        ("No thanks", "plan_declined", DONE),
        ("nope", "plan_declined", DONE),
        ("skip", "plan_declined", DONE),
        ("yes", "plan_offer_reprompt", REMINDER_OFFER),
        ("banana", "plan_offer_reprompt", REMINDER_OFFER),
        ("time", "plan_offer_reprompt", REMINDER_OFFER),
    ],
)
def test_offer_replies_that_do_not_enrol(text: str, template: str, step: str) -> None:
    phone = Phone().send(text, MONDAY_NOON)
    assert phone.templates == [template]
    assert phone.patient.plan is None
    assert phone.patient.conversation.step == step


def test_late_time_gets_the_nearest_allowed_time_and_how_to_change_it() -> None:
    text = Phone().send("11pm", MONDAY_NOON).texts[0]
    assert "9:00 pm" in text and "latest" in text and "8:00 am" in text and "TIME" in text


def test_confirmation_names_time_days_zone_and_commands() -> None:
    text = Phone().send("7pm", MONDAY_NOON).texts[0]
    for part in ("7:00 pm", "Pacific time", "Mon-Sat", "21 days", "Sunday", "today"):
        assert part in text
    for word in ("TIME 6pm", "ZONE", "PAUSE", "STOP"):
        assert word in text


def test_early_time_confirmation_says_it_moved() -> None:
    text = Phone().send("6am", MONDAY_NOON).texts[0]
    assert "8:00 am" in text and "earliest" in text and "tomorrow" in text


@pytest.mark.parametrize(
    ("phone", "zone"), [(PHONE_LA, LA), (PHONE_NY, NY), (PHONE_UK, "Europe/London"),
                        ("+18005551234", LA)],
)  # fmt: skip
def test_zone_is_guessed_from_the_number(phone: str, zone: str) -> None:
    p = Phone(phone).send("9am", MONDAY_NOON)
    assert p.plan.zone == zone


def test_start_is_today_only_when_todays_time_is_ahead() -> None:
    assert enrolled("7pm").plan.start == date(2026, 3, 2)
    assert enrolled("9am").plan.start == date(2026, 3, 3)


def test_baselines_come_from_the_triage_answers() -> None:
    plan = enrolled("7pm", pain_run=6, ktw={"left": 7.5, "right": 10.0}).plan
    assert (plan.baseline_pain, plan.baseline_ktw) == (6, 7.5)
    plan = enrolled("7pm", pain_run=6, ktw={"skipped": True}).plan
    assert plan.baseline_ktw is None


def test_plan_json_round_trips() -> None:
    plan = enrolled("7pm").plan
    plan = replace(plan, log={"2026-03-02": "done"}, checkins=(("2026-03-08", 3),),
                   ktw={"left": 9.0, "right": 12.0}, last_sent=date(2026, 3, 8),
                   last_kind=CHECKIN, alerted=("x",))  # fmt: skip
    data = json.loads(json.dumps(plan.to_json()))
    assert Plan.from_json(data) == plan
    assert set(data) >= {"status", "zone", "time", "weekdays", "start", "days", "log", "awaiting"}


# --- commands ----------------------------------------------------------------------------------


def test_done_and_skip_log_todays_local_date() -> None:
    phone = enrolled("7pm")
    phone.due(local(LA, 2026, 3, 2, 19))
    phone.send("DONE", local(LA, 2026, 3, 2, 19, 30))
    assert phone.plan.log == {"2026-03-02": "done"}
    assert "1 of 18 exercise days done" in phone.last
    phone.send("skip", local(LA, 2026, 3, 3, 19, 30))
    assert phone.plan.log["2026-03-03"] == "skipped"
    assert "Skipped" in phone.last


def test_done_after_midnight_answers_last_nights_reminder() -> None:
    phone = enrolled("8pm")
    phone.due(local(LA, 2026, 3, 2, 20))
    phone.send("done!", local(LA, 2026, 3, 3, 0, 40))
    assert phone.plan.log == {"2026-03-02": "done"}


def test_pause_and_resume() -> None:
    phone = enrolled("7pm")
    phone.send("PAUSE", MONDAY_NOON)
    assert phone.plan.status == PAUSED and phone.templates == ["plan_paused"]
    assert next_due(phone.plan, MONDAY_NOON, SETTINGS) is None
    assert phone.due(local(LA, 2026, 3, 2, 19)).reason == PAUSED
    phone.send("resume", MONDAY_NOON)
    assert phone.plan.status == ACTIVE and "Reminders back on" in phone.last
    assert next_due(phone.plan, MONDAY_NOON, SETTINGS) == local(LA, 2026, 3, 2, 19)


@pytest.mark.parametrize(
    ("texts", "stored", "template"),
    [
        (["TIME 6pm"], "18:00", "plan_time_set"),
        (["time 7:15am"], "08:00", "plan_time_set"),  # moved to the window start
        (["TIME", "6:30pm"], "18:30", "plan_time_set"),
        (["TIME", "evening"], "18:00", "plan_time_set"),
        (["TIME 11pm"], "21:00", "plan_time_set"),  # the nearest allowed time
        (["TIME", "banana"], "19:00", "plan_reprompt"),
        (["TIME", "banana", "pear", "apple"], "19:00", "plan_no_change"),
    ],
)
def test_time_command(texts: list[str], stored: str, template: str) -> None:
    phone = enrolled("7pm")
    for text in texts:
        phone.send(text, MONDAY_NOON)
    assert phone.patient.plan is not None and phone.patient.plan["time"] == stored
    assert phone.templates == [template]


def test_time_change_moves_next_due() -> None:
    phone = enrolled("7pm").send("TIME 5pm", MONDAY_NOON)
    assert next_due(phone.plan, MONDAY_NOON, SETTINGS) == local(LA, 2026, 3, 2, 17)
    assert "5:00 pm" in phone.last


@pytest.mark.parametrize(
    ("texts", "zone", "template"),
    [
        (["ZONE eastern"], NY, "plan_zone_set"),
        (["zone", "Central"], "America/Chicago", "plan_zone_set"),
        (["ZONE America/Denver"], "America/Denver", "plan_zone_set"),
        (["ZONE mars"], LA, "plan_reprompt"),
        (["ZONE", "mars", "venus", "pluto"], LA, "plan_no_change"),
    ],
)
def test_zone_command(texts: list[str], zone: str, template: str) -> None:
    phone = enrolled("7pm")
    for text in texts:
        phone.send(text, MONDAY_NOON)
    assert phone.plan.zone == zone and phone.templates == [template]


def test_zone_change_keeps_the_local_time() -> None:
    phone = enrolled("7pm").send("ZONE eastern", MONDAY_NOON)
    assert next_due(phone.plan, MONDAY_NOON, SETTINGS) == local(NY, 2026, 3, 2, 19)
    assert "Eastern time" in phone.last


def test_plan_words_without_a_plan() -> None:
    phone = Phone()
    phone.patient = replace(phone.patient, conversation=Conversation(step=DONE))
    assert phone.send("DONE", MONDAY_NOON).templates == ["no_plan"]
    ended = enrolled("7pm")
    ended.patient = replace(ended.patient, plan={**(ended.patient.plan or {}), "status": ENDED})
    assert ended.send("DONE", MONDAY_NOON).templates == ["plan_over"]


# --- reminder_due --------------------------------------------------------------------------------


def test_reminder_text_is_short_names_the_clinic_and_ends_with_the_commands() -> None:
    phone = enrolled("7pm")
    result = phone.due(local(LA, 2026, 3, 2, 19))
    assert (result.kind, result.local_date, result.wait) == (REMINDER, date(2026, 3, 2), False)
    assert phone.last.startswith("Impact PT")
    assert phone.last.endswith("Reply DONE, SKIP, PAUSE or STOP")
    assert len(phone.last) <= 160 and "pain" not in phone.last.lower()


@pytest.mark.parametrize(
    ("change", "now", "reason"),
    [
        ({}, local(LA, 2026, 3, 2, 18, 59), "not_due"),
        ({}, local(LA, 2026, 3, 2, 21, 1), "quiet"),
        ({"status": PAUSED}, local(LA, 2026, 3, 2, 19), PAUSED),
        ({"status": ENDED}, local(LA, 2026, 3, 2, 19), ENDED),
        ({"last_sent_local_date": "2026-03-02"}, local(LA, 2026, 3, 2, 19), "sent"),
        ({"time": "22:00"}, local(LA, 2026, 3, 2, 22), "quiet"),
    ],
)
def test_reminder_due_sends_nothing(change: dict[str, Any], now: datetime, reason: str) -> None:
    phone = enrolled("7pm")
    phone.patient = replace(phone.patient, plan={**(phone.patient.plan or {}), **change})
    result = phone.due(now)
    assert result.kind is None and result.step.replies == () and result.reason == reason


def test_opted_out_gets_nothing() -> None:
    phone = enrolled("7pm")
    phone.patient = replace(phone.patient, opted_out=True)
    assert phone.due(local(LA, 2026, 3, 2, 19)).reason == "opted_out"


def test_sent_once_per_local_date() -> None:
    phone = enrolled("7pm")
    assert phone.due(local(LA, 2026, 3, 2, 19)).kind == REMINDER
    assert phone.due(local(LA, 2026, 3, 2, 19, 5)).reason == "sent"
    assert phone.plan.last_sent == date(2026, 3, 2)


def test_questionnaire_in_progress_means_wait() -> None:
    phone = enrolled("7pm")
    busy = replace(phone.patient.conversation, step="age")
    phone.patient = replace(phone.patient, conversation=busy)
    result = phone.due(local(LA, 2026, 3, 2, 19))
    assert result.wait and result.kind == REMINDER and result.step.replies == ()
    assert phone.plan.last_sent is None
    phone.patient = replace(phone.patient, conversation=replace(busy, step=DONE))
    assert phone.due(local(LA, 2026, 3, 2, 20, 30)).kind == REMINDER  # the retry, same day


def test_unanswered_reminder_is_logged_no_reply() -> None:
    phone = enrolled("7pm")
    phone.due(local(LA, 2026, 3, 2, 19))
    phone.due(local(LA, 2026, 3, 3, 19))
    assert phone.plan.log == {"2026-03-02": "no_reply"}
    phone.send("DONE", local(LA, 2026, 3, 3, 20))
    phone.due(local(LA, 2026, 3, 4, 19))
    assert phone.plan.log == {"2026-03-02": "no_reply", "2026-03-03": "done"}


# --- check-ins ---------------------------------------------------------------------------------


def checkin(phone: Phone, day: date, *texts: str) -> Phone:
    result = phone.due(local(LA, day.year, day.month, day.day, 19))
    assert result.kind == CHECKIN and phone.templates == ["plan_checkin"]
    assert "0 (none) to 10" in phone.last and phone.plan.awaiting == "checkin_pain"
    for i, text in enumerate(texts):
        phone.send(text, local(LA, day.year, day.month, day.day, 19, 10 + i))
    return phone


SUNDAYS = (date(2026, 3, 8), date(2026, 3, 15), date(2026, 3, 22))


def test_checkin_without_flags() -> None:
    phone = checkin(enrolled("7pm"), SUNDAYS[0], "3")
    assert phone.templates == ["plan_checkin_flags"] and "5 new numbness" in phone.last
    phone.send("0", local(LA, 2026, 3, 8, 19, 20))
    assert phone.templates == ["plan_checkin_thanks"] and phone.alerts == []
    assert phone.plan.checkins == (("2026-03-08", 3),) and phone.plan.awaiting is None


@pytest.mark.parametrize(
    ("flags", "level"),
    [("1", "emergency"), ("4", "emergency"), ("2", "urgent"), ("3", "urgent"), ("5", "urgent"),
     ("2 4", "emergency"), ("3,5", "urgent")],
)  # fmt: skip
def test_red_flag_at_checkin_alerts_and_pauses(flags: str, level: str) -> None:
    phone = checkin(enrolled("7pm"), SUNDAYS[0], "2", flags)
    assert phone.alerts == [Alert(level, "checkin_red_flag")]
    assert phone.templates == [f"plan_checkin_{level}"]
    text = phone.last.lower()
    assert ("911" in text) and "exercise" not in text and "stretch" not in text
    if level == "urgent":
        assert "medical care today" in text
    assert phone.plan.status == PAUSED
    assert next_due(phone.plan, local(LA, 2026, 3, 8, 20), SETTINGS) is None
    phone.send("RESUME", local(LA, 2026, 3, 9, 9))
    assert phone.templates == ["plan_resume_held"] and phone.plan.status == PAUSED
    phone.patient = release_hold(phone.patient)
    assert phone.plan.status == PAUSED
    phone.send("RESUME", local(LA, 2026, 3, 9, 9))
    assert phone.plan.status == ACTIVE


@pytest.mark.parametrize(
    ("intake", "pain", "why"),
    [(4, "7", "high"), (3, "9", "high"), (4, "6", "rising"), (None, "6", None), (4, "5", None),
     (None, "8", "high"), (6, "6", None)],
)  # fmt: skip
def test_high_or_rising_checkin_pain_advises_and_asks_for_a_call(
    intake: int | None, pain: str, why: str | None
) -> None:
    phone = enrolled("7pm", pain_run=intake, ktw={"skipped": True})
    checkin(phone, SUNDAYS[0], pain, "0")
    if why is None:
        assert phone.alerts == [] and phone.templates == ["plan_checkin_thanks"]
        return
    assert phone.alerts == [Alert("priority_call", "checkin_pain_high")]
    assert phone.templates == ["plan_checkin_pain_high"]
    assert "ease off" in phone.texts[0] and "5/10" in phone.texts[0]
    assert phone.plan.status == ACTIVE  # nothing is paused
    assert "Keep going" not in " ".join(phone.texts)


@pytest.mark.parametrize(
    ("pain", "ktw", "template"),
    [
        ("4", "L 9 R 12", "plan_offer_call"),  # +1 cm on the stiffer side, pain not down
        ("4", "L 10 R 12", "plan_checkin_thanks"),  # +2 cm
        ("2", "L 8 R 11", "plan_checkin_thanks"),  # pain down 2 from 4
        ("3", "skip", "plan_offer_call"),
        ("2", "skip", "plan_checkin_thanks"),
    ],
)
def test_week_three_knee_to_wall(pain: str, ktw: str, template: str) -> None:
    phone = enrolled("7pm", pain_run=4, ktw={"left": 8.0, "right": 11.0})
    checkin(phone, SUNDAYS[0], pain, "0")
    checkin(phone, SUNDAYS[1], pain, "0")
    assert phone.templates == ["plan_checkin_thanks"]  # no knee-to-wall before week 3
    checkin(phone, SUNDAYS[2], pain, "0")
    assert phone.templates == ["plan_checkin_ktw"] and phone.plan.awaiting == "checkin_ktw"
    phone.send(ktw, local(LA, 2026, 3, 22, 19, 30))
    assert phone.templates == [template] and phone.plan.awaiting is None
    assert phone.alerts == []


def test_checkin_reprompts_then_asks_for_a_call() -> None:
    phone = checkin(enrolled("7pm"), SUNDAYS[0], "eleven")
    assert phone.templates == ["plan_reprompt"] and "0 to 10" in phone.last
    phone.send("0 and 2", local(LA, 2026, 3, 8, 19, 30))
    phone.send("lots", local(LA, 2026, 3, 8, 19, 31))
    assert phone.templates == ["plan_checkin_unclear"]
    assert phone.alerts == [Alert("callback", "checkin_unclear")]
    assert phone.plan.awaiting is None


def test_plan_commands_win_over_a_pending_checkin() -> None:
    phone = checkin(enrolled("7pm"), SUNDAYS[0], "PAUSE")
    assert phone.plan.status == PAUSED and phone.templates == ["plan_paused"]


# --- the whole plan, DST, end summary ----------------------------------------------------------


def walk(phone: Phone, until: datetime, answer: Any = None) -> list[tuple[datetime, str]]:
    """Fire the scheduler at every next_due until `until`; `answer(phone, when, kind)` replies."""
    sent: list[tuple[datetime, str]] = []
    now = datetime.combine(phone.plan.start, time(0), tzinfo=UTC) - timedelta(days=1)
    while (due := next_due(phone.plan, now, SETTINGS)) is not None and due <= until:
        result = phone.due(due)
        assert result.kind is not None, result
        sent.append((due, result.kind))
        if answer is not None:
            answer(phone, due, result.kind)
        now = due
    return sent


@pytest.mark.parametrize("zone", [LA, NY])
@pytest.mark.parametrize("start", [date(2026, 2, 25), date(2026, 10, 19)])
@pytest.mark.parametrize("at", [time(9), time(20, 30)])
def test_one_message_per_local_day_at_the_wall_time_across_dst(
    zone: str, start: date, at: time
) -> None:
    phone = Phone(PHONE_LA if zone == LA else PHONE_NY)
    plan = Plan(zone, at, start, 21, SETTINGS.weekdays, SETTINGS.check_in_weekday)
    phone.patient = replace(phone.patient, plan=plan.to_json())
    sent = walk(phone, datetime(2027, 1, 1, tzinfo=UTC))
    local_days = [(d.astimezone(ZoneInfo(zone)).date(), k) for d, k in sent]
    assert local_days == due_local_dates(plan)
    assert all(d.astimezone(ZoneInfo(zone)).time() == at for d, _ in sent)
    dst_day = date(2026, 3, 8) if start.month == 2 else date(2026, 11, 1)
    assert dst_day in {d for d, _ in local_days}  # the DST Sunday gets its check-in
    kinds = [k for _, k in local_days]
    assert kinds.count(REMINDER) == 18 and kinds.count(CHECKIN) == 3 and kinds[-1] == END
    assert phone.plan.status == ENDED


def test_end_of_plan_summary() -> None:
    phone = enrolled("7pm", pain_run=5, ktw={"left": 8.0, "right": 11.0})
    pains = iter(("4", "3", "2"))

    def answer(p: Phone, when: datetime, kind: str) -> None:
        later = when + timedelta(minutes=5)
        if kind == REMINDER and when.astimezone(ZoneInfo(LA)).day % 3:
            p.send("DONE", later)
        elif kind == CHECKIN:
            p.send(next(pains), later)
            p.send("0", later + timedelta(minutes=1))
            if p.plan.awaiting == "checkin_ktw":
                p.send("L 10 R 12", later + timedelta(minutes=2))

    sent = walk(phone, datetime(2026, 4, 1, tzinfo=UTC), answer)
    assert sent[-1][1] == END and phone.templates == ["plan_end"]
    context = phone.step.replies[0].context
    done = sum(1 for d, k in sent if k == REMINDER and d.astimezone(ZoneInfo(LA)).day % 3)
    assert (context["done"], context["planned"]) == (done, 18)
    assert (context["pain_first"], context["pain_last"], context["better"]) == (5, 2, True)
    assert f"{done} of 18" in phone.last and "5/10 to 2/10" in phone.last
    assert "https://example.test/book" in phone.last
    assert phone.plan.status == ENDED and next_due(phone.plan, sent[-1][0], SETTINGS) is None
    assert phone.plan.log.get("2026-03-03") == "no_reply"  # day 3: no answer


def test_end_summary_offers_booking_when_not_better() -> None:
    phone = enrolled("7pm", pain_run=4, ktw={"skipped": True})
    walk(phone, datetime(2026, 4, 1, tzinfo=UTC))
    assert phone.step.replies[0].context["better"] is False
    assert "book an evaluation" in phone.last and "0 of 18" in phone.last


# --- properties --------------------------------------------------------------------------------

ZONES = [LA, NY, "Europe/London", "Australia/Sydney", "America/Phoenix", "Pacific/Honolulu"]


@settings(max_examples=60, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    minute_of_day=st.integers(0, 24 * 60 - 1),
    start=st.dates(date(2026, 1, 1), date(2026, 12, 31)),
    days=st.integers(1, 30),
    weekdays=st.sets(st.sampled_from((*SETTINGS.weekdays, "sun")), min_size=1),
    offset_hours=st.integers(-30, 30),
)
def test_next_due_is_in_quiet_hours_and_once_per_local_date(
    zone: str, minute_of_day: int, start: date, days: int, weekdays: set[str], offset_hours: int
) -> None:
    at = time(minute_of_day // 60, minute_of_day % 60)
    plan = Plan(zone, at, start, days, tuple(sorted(weekdays)), "sun")
    phone = Phone()
    phone.patient = replace(phone.patient, plan=plan.to_json())
    now = datetime.combine(start, time(12), tzinfo=UTC) + timedelta(hours=offset_hours)
    seen: set[date] = set()
    while (due := next_due(phone.plan, now, SETTINGS)) is not None:
        assert due >= now
        wall = due.astimezone(ZoneInfo(zone))
        assert SETTINGS.quiet_start <= wall.time() <= SETTINGS.quiet_end
        assert wall.date() not in seen
        seen.add(wall.date())
        assert phone.due(due).kind is not None
        now = due
    assert at > SETTINGS.quiet_end or phone.plan.status == ENDED


def test_every_template_exists() -> None:
    missing = [t for t in TEMPLATES if not (TEMPLATE_DIR / f"{t}.j2").is_file()]
    assert missing == []


def test_an_abandoned_questionnaire_does_not_hold_reminders_forever() -> None:
    phone = enrolled()
    tuesday_7pm = local(LA, 2026, 3, 3, 19)
    started = replace(
        phone.patient.conversation, step="age", last_at=tuesday_7pm - timedelta(hours=2)
    )
    busy = replace(phone.patient, conversation=started)
    assert reminder_due(busy, tuesday_7pm, settings=SETTINGS).reason == "busy"
    stale = replace(started, last_at=tuesday_7pm - timedelta(hours=30))
    due = reminder_due(replace(busy, conversation=stale), tuesday_7pm, settings=SETTINGS)
    assert (due.reason, due.kind) != ("busy", None)
    assert due.kind == "reminder"
