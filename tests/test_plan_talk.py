"""A patient on a plan texting like a person: free text, PSFS, paused states, times outside the
window, stalled plans, the messages' shape; the pure core with the shipped config."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import Config
from bot.core.answers import keyword_of
from bot.core.model import REMINDER_OFFER, Alert, Conversation, Patient, Reply, Step
from bot.core.plan import ACTIVE, PAUSED, Plan, PlanSettings, exercise_days
from bot.core.plan_due import reminder_due
from bot.core.plan_progress import psfs_words
from bot.core.plan_replies import plan_replies
from bot.core.plan_talk import kind_of
from bot.core.times import parse_time_of_day
from bot.render import Renderer, segments
from bot.settings import ROOT
from tests.plan_phone import PlanView

LA = ZoneInfo("America/Los_Angeles")
MONDAY = date(2026, 3, 2)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 2 + day, hour, minute, tzinfo=LA).astimezone(UTC)


class Phone(PlanView):
    def __init__(self, config: Config, **answers: Any) -> None:
        self.settings: PlanSettings = config.plan
        self.renderer = Renderer(config, ROOT / "templates")
        conv = Conversation(step=REMINDER_OFFER, outcome="exercises",
                            answers={"pain_run": 3, **answers})  # fmt: skip
        self.patient = Patient("+19494091339", conversation=conv)
        self.step = Step(self.patient)

    def send(self, text: str, now: datetime) -> str:
        """As the engine hands it over: the conversation's last message is this one."""
        conv = replace(self.patient.conversation, last_at=now)
        self.patient = replace(self.patient, conversation=conv)
        self.step = plan_replies(self.patient, keyword_of(text), text, now, settings=self.settings)
        self.patient = self.step.patient
        return "\n\n".join(self.renderer.messages(self.step.replies))

    def due(self, now: datetime) -> str:
        self.step = reminder_due(self.patient, now, settings=self.settings).step
        self.patient = self.step.patient
        return "\n\n".join(self.renderer.messages(self.step.replies))


@pytest.fixture
def phone(config: Config) -> Phone:
    p = Phone(config)
    p.send("6pm", at(0, 9))
    p.send("running 5 miles", at(0, 9, 1))
    p.send("4", at(0, 9, 2))
    return p


@pytest.mark.parametrize(
    ("text", "kind"),
    [("what were those exercises again?", "program"), ("EXERCISES", "program"),
     ("can you send the videos", "program"), ("Can I run a race on Saturday", "question"),
     ("is it ok to ice it?", "question"), ("my knee hurts after running", "sore"),
     ("feeling sore today", "sore"), ("no pain today, feels better", "better"),
     ("knee feels better", "better"), ("thanks!", "thanks"), ("ok 👍", "thanks"),
     ("Thank you so much", "thanks"), ("banana", None), ("hello", None),
     # A negated word means its opposite, within its clause; curly apostrophes as phones send.
     ("knee is not getting better", "sore"), ("not good", "sore"),
     ("I don’t think it’s getting any better", "sore"), ("not great, it hurts", "sore"),
     ("it doesn’t hurt anymore", "better"), ("I don't have any pain", "better"),
     ("no pain, and feeling better", "better"), ("I can't run because it hurts", "sore"),
     ("thanks but it still hurts", "sore"), ("No it hurts", "sore"), ("no more pain", "better"),
     ("ok I'm going to the ER", "care"), ("seeing my doctor tomorrow", "care"),
     ("at urgent care now, thanks", "care"), ("9/10", "sore"), ("about 8 out of 10 today", "sore"),
     ("2/10", None), ("did my exercises", "done"), ("I did them today", "done"),
     ("finished the exercises, knee feels better", "done"),
     ("didn't do my exercises", "program"), ("did you get my message?", "question"),
     ("I did something to my knee, it hurts", "sore"), ("nothing urgent, thanks", "thanks"),
     ("no need for a doctor, it feels better", "better"), ("should I see a doctor?", "question"),
     ("should i go to the er", "question")],
)  # fmt: skip
def test_free_text_is_read_by_the_clinics_word_lists(
    config: Config, text: str, kind: str | None
) -> None:
    assert kind_of(text, config.plan) == kind


def test_did_my_exercises_logs_the_day(phone: Phone) -> None:
    phone.due(at(0, 18))
    reply = phone.send("did my exercises", at(0, 18, 30))
    assert "Logged" in reply and "1 of 18" in reply and "Calf release" not in reply
    assert phone.plan.log == {"2026-03-02": "done"}


def test_going_to_the_er_is_not_keep_it_up(phone: Phone) -> None:
    reply = phone.send("ok I'm going to the ER", at(1, 12))
    assert "welcome" not in reply.lower() and "Keep it up" not in reply
    assert "911" in reply and "PAUSE" in reply and "CALL" in reply


def test_not_getting_better_is_not_great_to_hear(phone: Phone) -> None:
    reply = phone.send("my knee is not getting better", at(1, 12))
    assert "Great to hear" not in reply and "Sorry to hear that" in reply and "CALL" in reply


def test_psfs_at_enrolment(config: Config) -> None:
    p = Phone(config)
    assert "name one activity" in p.send("6pm", at(0, 9))
    assert "or SKIP" in p.send("12", at(0, 9, 1))  # not an activity: asked again
    assert '"going downstairs"' in p.send("going downstairs", at(0, 9, 2))
    assert "0 (unable) to 10" in p.send("lots", at(0, 9, 3))
    assert "7/10" in p.send("7", at(0, 9, 4))
    assert p.plan.psfs_activity == "going downstairs"
    assert p.plan.psfs == (("baseline", "2026-03-02", 7),)


@pytest.mark.parametrize("text", ["skip", "SKIP", "no thanks", "none"])
def test_psfs_can_be_left_out(config: Config, text: str) -> None:
    p = Phone(config)
    p.send("6pm", at(0, 9))
    assert "leave it out" in p.send(text, at(0, 9, 1))
    assert p.plan.psfs_activity is None and p.plan.awaiting is None and p.plan.log == {}


@pytest.mark.parametrize(
    ("text", "said"),
    [("what do you mean?", "one thing your knee makes hard"), ("thanks", "name one activity"),
     ("ok", "name one activity"), ("Great thanks", "name one activity"),
     ("idk", "leave it out"), ("not sure", "leave it out"), ("I don’t know", "leave it out"),
     ("nothing really", "leave it out")],
)  # fmt: skip
def test_a_question_or_thanks_is_not_taken_as_the_psfs_activity(
    config: Config, text: str, said: str
) -> None:
    p = Phone(config)
    p.send("6pm", at(0, 9))
    reply = p.send(text, at(0, 9, 1))
    assert said in reply and f'"{text}"' not in reply
    assert p.plan.psfs_activity is None


def test_a_question_about_the_psfs_score_gets_the_scale_explained(config: Config) -> None:
    p = Phone(config)
    p.send("6pm", at(0, 9))
    p.send("running", at(0, 9, 1))
    reply = p.send("what do you mean", at(0, 9, 2))
    assert "Good question" not in reply and "0 means" in reply and "10 means" in reply
    assert "5/10" in p.send("5", at(0, 9, 3))


def test_a_long_psfs_activity_is_cut_at_a_word(config: Config) -> None:
    p = Phone(config)
    p.send("6pm", at(0, 9))
    p.send(
        "I can't run more than 2 miles without pain in my knee, especially downhill", at(0, 9, 1)
    )
    assert p.plan.psfs_activity == "I can't run more than 2 miles without pain in my knee"


def test_time_trials_is_an_activity_not_the_time_command(config: Config) -> None:
    p = Phone(config)
    p.send("6pm", at(0, 9))
    assert '"time trials"' in p.send("time trials", at(0, 9, 1))
    assert p.plan.at == time(18)


@pytest.mark.parametrize(
    ("text", "stored", "said"),
    [("11pm", time(21), "the latest we text"), ("midnight", time(21), "the latest we text"),
     ("5am", time(8), "the earliest we text"), ("9:15pm", time(21), "latest"),
     ("7pm", time(19), None), ("7", time(19), None)],
)  # fmt: skip
def test_a_time_outside_the_window_gets_the_nearest_and_how_to_change_it(
    phone: Phone, text: str, stored: time, said: str | None
) -> None:
    reply = phone.send(f"TIME {text}", at(0, 10))
    assert phone.plan.at == stored
    if said is None:
        assert "we only text" not in reply
    else:
        assert said in reply and "between 8:00 am and 9:00 pm" in reply and "TIME" in reply


@pytest.mark.parametrize(
    ("text", "said"),
    [("thanks!", "You're welcome"), ("my knee is sore", "Sorry to hear that"),
     ("can I still run?", "reply CALL"), ("what were the exercises?", "Calf release")],
)  # fmt: skip
def test_free_text_at_the_reminder_offer_gets_its_reply_then_the_offer(
    config: Config, text: str, said: str
) -> None:
    p = Phone(config)
    reply = p.send(text, at(0, 9))
    assert said in reply and "What time should we remind you?" in reply
    assert "Sorry, I didn't get that" not in reply and p.patient.plan is None


def test_time_alone_asks_for_the_time(config: Config, phone: Phone) -> None:
    assert "What time should we text you?" in phone.send("TIME", at(0, 10))
    assert "6:30 pm" in phone.send("6:30pm", at(0, 10, 1))
    offered = Phone(config)
    assert "What time should we remind you?" in offered.send("time", at(0, 9))
    assert offered.patient.plan is None


@pytest.mark.parametrize("text", ["thanks", "knee feels better", "hello", "going to the doctor"])
def test_free_text_while_paused_says_paused_and_offers_no_dead_end(phone: Phone, text: str) -> None:
    phone.send("PAUSE", at(0, 10))
    reply = phone.send(text, at(0, 11))
    assert "Keep it up" not in reply and "DONE" not in reply and "SKIP" not in reply
    assert "RESUME" in reply or "PAUSE" not in reply
    assert not re.search(r"[.!?] [a-z]", reply), reply  # every sentence starts with a capital


def test_paused_means_paused_in_every_reply(phone: Phone) -> None:
    phone.due(at(0, 18))
    phone.send("DONE", at(0, 18, 30))
    assert "Reminders paused" in phone.send("PAUSE", at(1, 9))
    for text in ("DONE", "done!", "SKIP"):
        reply = phone.send(text, at(1, 18))
        assert "paused" in reply and "Logged" not in reply and "Skipped" not in reply
    assert "already paused" in phone.send("pause", at(1, 19))
    assert "paused" in phone.send("hello", at(1, 19))
    assert phone.plan.log == {"2026-03-02": "done"}
    assert "back on" in phone.send("RESUME", at(2, 9))


def test_done_counts_exercise_days_only_and_never_past_the_plan(phone: Phone) -> None:
    for day in range(21):
        phone.due(at(day, 18))
        reply = phone.send("DONE", at(day, 18, 30))
        assert "of 18 exercise days done" in reply
        if day % 7 == 6:  # Sunday: the check-in day is not an exercise day
            assert "Nice extra work" in reply
    assert "18 of 18 exercise days done" in reply
    assert len(exercise_days(phone.plan)) == 18
    end = phone.due(at(21, 18))
    assert "You did 18 of 18 exercise days" in end
    assert "finished" in phone.send("DONE", at(22, 18))


def test_reminder_day_and_summary_count_the_same_days(phone: Phone) -> None:
    days = []
    for day in range(22):
        text = phone.due(at(day, 18))
        if found := re.search(r"exercise day (\d+) of (\d+)", text):
            days.append((int(found.group(1)), int(found.group(2))))
        if day % 3 == 0:
            phone.send("DONE", at(day, 18, 30))
    assert days == [(n, 18) for n in range(1, 19)]
    done = sum(1 for d in range(21) if d % 3 == 0 and d % 7 != 6)
    assert f"You did {done} of 18 exercise days" in text


def test_three_skips_in_a_row_nudge_once_and_flag_staff(phone: Phone) -> None:
    for day, text in enumerate(("DONE", "SKIP", "SKIP")):
        phone.due(at(day, 18))
        phone.send(text, at(day, 18, 30))
        assert phone.alerts == []
    phone.due(at(3, 18))
    reply = phone.send("skip", at(3, 18, 30))
    assert "a few days skipped in a row" in reply
    assert phone.alerts == [Alert("lead", "plan_stalled")]
    phone.due(at(4, 18))
    assert "Skipped for today" in phone.send("SKIP", at(4, 18, 30))  # the fourth: no second nudge
    assert phone.alerts == []


def test_five_silent_days_nudge_once_and_flag_staff(config: Config, phone: Phone) -> None:
    sent = []
    for day in range(1, 9):
        text = phone.due(at(day, 18))
        sent.append((day, text, [e for e in phone.step.effects if isinstance(e, Alert)]))
    nudges = [(d, a) for d, t, a in sent if "haven't heard from you" in t]
    assert nudges == [(5, [Alert("lead", "plan_stalled")])]  # Sunday 8 is the check-in


def test_welcome_back_once_and_only_after_silence(config: Config, phone: Phone) -> None:
    for day in range(1, 5):
        phone.due(at(day, 18))
    assert "haven't heard from you" in phone.due(at(5, 18))
    assert phone.send("hello", at(5, 19)).startswith("Welcome back")
    assert "Welcome back" not in phone.send("hello again", at(5, 19, 5))
    skipper = Phone(config)
    skipper.send("6pm", at(0, 9))
    skipper.send("SKIP", at(0, 9, 1))
    for day in range(3):
        skipper.due(at(day, 18))
        skipper.send("SKIP", at(day, 18, 30))
    assert skipper.alerts == [Alert("lead", "plan_stalled")]  # they are talking, not away
    assert "Welcome back" not in skipper.send("hello", at(2, 19))


def test_skip_on_the_check_in_day_logs_nothing_and_asks_the_check_in_again(
    phone: Phone,
) -> None:
    for day in (4, 5):  # Friday and Saturday skipped
        phone.due(at(day, 18))
        phone.send("SKIP", at(day, 18, 30))
    phone.due(at(6, 18))  # Sunday: the check-in, not an exercise day
    reply = phone.send("SKIP", at(6, 18, 30))
    assert "Skipped for today" not in reply and "isn't one of your plan's exercise days" in reply
    assert "0 to 10" in reply and phone.plan.awaiting == "checkin_pain"
    assert "2026-03-08" not in phone.plan.log and phone.alerts == []  # not a third skip
    reply = phone.send("DONE", at(6, 18, 31))
    assert "Nice extra work" in reply and "0 to 10" in reply  # the open check-in, again


def test_check_in_pain_of_7_with_a_low_intake_advises_without_pausing(phone: Phone) -> None:
    phone.due(at(6, 18))
    phone.send("7", at(6, 18, 5))
    reply = phone.send("0", at(6, 18, 6))
    assert "7/10 during runs is too much" in reply and "ease off" in reply
    assert phone.alerts == [Alert("priority_call", "checkin_pain_high")]
    assert phone.plan.status == ACTIVE and '"running 5 miles"' in reply


@pytest.mark.parametrize(
    ("text", "pain"),
    [("I didn't run this week", None), ("no runs, resting it", None), ("haven't been running", None),
     ("none", 0), ("no pain", 0), ("Zero", 0), ("pain free!", 0)],
)  # fmt: skip
def test_a_check_in_answered_in_words_is_understood(
    phone: Phone, text: str, pain: int | None
) -> None:
    phone.due(at(6, 18))
    reply = phone.send(text, at(6, 18, 5))
    assert "Any of these now?" in reply and "Sorry" not in reply
    phone.send("0", at(6, 18, 6))
    assert phone.plan.checkins == (("2026-03-08", pain),) and phone.alerts == []
    phone.send("5", at(6, 18, 7))
    assert "run pain" not in phone.due(at(21, 18)) or pain is not None  # nothing made up


def test_a_late_check_in_answer_still_counts(phone: Phone) -> None:
    phone.due(at(6, 18))  # Sunday's check-in, unanswered
    phone.due(at(7, 18))  # Monday's reminder
    assert "Any of these now?" in phone.send("2", at(7, 18, 30))
    phone.send("0", at(7, 18, 31))
    assert phone.plan.checkins == (("2026-03-08", 2),)


def test_a_question_during_the_check_in_is_answered_and_the_question_asked_again(
    phone: Phone,
) -> None:
    phone.due(at(6, 18))
    reply = phone.send("what were the exercises?", at(6, 18, 5))
    assert "Calf release" in reply and "0 to 10" in reply and "Sorry" not in reply
    assert phone.plan.invalid == 0


@pytest.mark.parametrize("text", ["yes", "Yeah", "yep I do", "ok"])
def test_yes_to_the_check_in_red_flags_asks_which_not_thanks(phone: Phone, text: str) -> None:
    phone.due(at(6, 18))
    phone.send("3", at(6, 18, 5))
    reply = phone.send(text, at(6, 18, 6))
    assert "welcome" not in reply.lower() and "Keep it up" not in reply
    assert "Which ones?" in reply and "0 for none" in reply and "call 911 now" in reply
    assert phone.plan.awaiting == "checkin_flags" and phone.alerts == []
    assert "911" in phone.send("4", at(6, 18, 7))


@pytest.mark.parametrize(
    ("text", "level"),
    [("my calf is swollen and red", "urgent"), ("tingling in my foot", "urgent"),
     ("chest pain", "emergency"), ("hot swollen knee and a fever", "urgent"),
     ("no, none of those", None), ("nope", None), ("0, although my calf is warm", "again")],
)  # fmt: skip
def test_check_in_red_flags_told_in_words_are_read_as_red_flags(
    phone: Phone, text: str, level: str | None
) -> None:
    phone.due(at(6, 18))
    phone.send("3", at(6, 18, 5))
    reply = phone.send(text, at(6, 18, 6))
    if level is None:
        assert phone.alerts == [] and '"running 5 miles"' in reply
    elif level == "again":  # never read as none: asked again
        assert "0 means none" in reply and phone.plan.awaiting == "checkin_flags"
    else:
        assert phone.alerts == [Alert(level, "checkin_red_flag")]
        assert "Sorry to hear that" not in reply and phone.plan.status == PAUSED


def test_red_flag_hold_then_free_text(phone: Phone) -> None:
    phone.due(at(6, 18))
    phone.send("3", at(6, 18, 5))
    assert "911" in phone.send("1", at(6, 18, 6))
    assert phone.plan.status == PAUSED
    for text in ("ok I'm going to the ER", "what were the exercises?", "thanks"):
        assert "paused until our team has talked with you" in phone.send(text, at(6, 19))


@pytest.mark.parametrize(
    ("change", "words"),
    [(4, "a real improvement"), (3, "a real improvement"), (2, "may matter"),
     (1, "about the same"), (0, "about the same"), (-2, "a little worse"), (-3, "a real drop")],
)  # fmt: skip
def test_psfs_change_in_plain_words(config: Config, change: int, words: str) -> None:
    assert words in psfs_words(change, config.plan)


def test_greeting_and_consent_fit_in_two_sms_segments(config: Config) -> None:
    renderer = Renderer(config, ROOT / "templates")
    [first] = renderer.messages([Reply("greeting"), Reply("q_consent", {"question": "consent"})])
    assert segments(first) <= 2, len(first)


def test_every_example_time_in_a_template_is_inside_the_allowed_hours(config: Config) -> None:
    renderer = Renderer(config, ROOT / "templates")
    examples = []
    for path in sorted((ROOT / "templates").rglob("*.j2")):
        text = path.read_text(encoding="utf-8")
        examples += re.findall(r"\b(\d{1,2}(?::\d\d)?\s?[ap]m)\b", text, re.I)
    assert examples
    for example in examples:
        t = parse_time_of_day(example, {})
        assert config.plan.quiet_start <= t <= config.plan.quiet_end, example
    assert renderer  # the templates above are the ones the renderer loads


def test_one_step_is_one_sms_with_no_part_twice(config: Config) -> None:
    renderer = Renderer(config, ROOT / "templates")
    replies = [Reply("plan_question", {"held": False}), Reply("plan_question", {"held": False}),
               Reply("plan_sore")]  # fmt: skip
    [sms] = renderer.messages(replies)
    assert sms.count("Good question") == 1 and "5/10" in sms
    assert len(renderer.messages(replies, "web")) == 2  # the web chat shows bubbles


def test_a_web_invitation_with_a_time_enrols_on_yes_and_sends_the_program(
    config: Config,
) -> None:
    p = Phone(config, reminder_time="18:30", web_invite=True)
    p.patient = replace(p.patient, conversation=replace(p.patient.conversation, answers={
        "reminder_time": "18:30", "web_invite": True}))  # fmt: skip
    reply = p.send("YES", at(0, 9))
    assert reply.index("Calf release") < reply.index("6:30 pm")
    assert p.plan.at == time(18, 30) and p.plan.baseline_pain is None


@pytest.mark.parametrize("text", ["what is this?", "who is this", "hmm"])
def test_an_unclear_answer_to_a_web_invitation_offers_yes_again(config: Config, text: str) -> None:
    p = Phone(config)
    p.patient = replace(p.patient, conversation=replace(p.patient.conversation, answers={
        "reminder_time": "18:30", "web_invite": True}))  # fmt: skip
    reply = p.send(text, at(0, 9))
    assert "Reply YES" in reply and "6:30 pm" in reply and "NO" in reply
    assert "Good question" not in reply  # "what is this?" is about our text: the invite says
    assert "6:30 pm" in p.send("yes", at(0, 9, 1)) and p.plan.at == time(18, 30)


AWAITING = (None, "time", "zone", "checkin_pain", "checkin_flags", "checkin_ktw",
            "psfs_activity", "psfs_baseline", "psfs_weekly", "psfs_final")  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    awaiting=st.sampled_from(AWAITING),
    status=st.sampled_from(("active", "paused", "ended")),
    held=st.booleans(),
    text=st.one_of(st.text(max_size=60), st.sampled_from(
        ("DONE", "skip", "time", "TIME 11pm", "thanks", "what?", "7", "pain 8", "0", "1 3",
         "L 9 R 12", "exercises", "resume", "pause", "zone", "sore", "running"))),
)  # fmt: skip
def test_a_plan_patient_always_gets_a_plan_reply(
    config: Config, awaiting: str | None, status: str, held: bool, text: str
) -> None:
    p = Phone(config)
    p.send("6pm", at(0, 9))
    plan = replace(p.plan, awaiting=awaiting, status=status, hold="red_flag" if held else None,
                   psfs_activity="running", checkin_date="2026-03-08")  # fmt: skip
    p.patient = replace(p.patient, plan=plan.to_json())
    reply = p.send(text, at(7, 19))
    assert reply.strip(), (awaiting, status, text)
    assert not {"greeting", "q_consent", "expired"} & set(p.templates)
    assert Plan.from_json(p.plan.to_json()) == p.plan
    if held and "Logged" in reply:
        raise AssertionError(reply)


def test_an_open_check_in_is_not_replaced_by_the_end_of_plan_question(phone: Phone) -> None:
    for day in range(20):
        phone.due(at(day, 18))
    phone.send("4", at(20, 18, 30))  # Sunday: the pain score, the red-flag question still open
    assert "plan is complete" in phone.due(at(21, 18))
    assert phone.plan.awaiting == "checkin_flags"
    assert "medical care today" in phone.send("2", at(21, 18, 30))  # still read as a red flag
    assert phone.alerts == [Alert("urgent", "checkin_red_flag")]
    assert phone.plan.status == "ended"  # the alert, but the finished plan stays finished


def test_the_last_psfs_question_is_not_asked_again_weeks_after_the_end(phone: Phone) -> None:
    for day in range(21):
        phone.due(at(day, 18))
        if day % 7 == 6:  # the check-ins: pain, red flags, PSFS (week 3: knee-to-wall)
            for answer in ("2", "0", "5", "L 9 R 12"):
                phone.send(answer, at(day, 18, 30))
    assert "Last question" in phone.due(at(21, 18))
    assert "running 5 miles" in phone.send("thanks", at(22, 12))  # the next day: asked again
    for text in ("thanks", "hello", "DONE"):  # days later: no more nagging
        assert "running 5 miles" not in phone.send(text, at(27, 12))
    assert "went from 4/10 to 8/10" in phone.send("8", at(28, 12))  # a late score still counts


def test_changing_the_time_while_paused_says_it_is_still_paused(phone: Phone) -> None:
    phone.send("PAUSE", at(1, 9))
    assert "paused for now: reply RESUME" in phone.send("TIME 7pm", at(1, 9, 1))
    assert "once you reply RESUME" in phone.send("ZONE eastern", at(1, 9, 2))
    assert phone.plan.status == PAUSED


def test_skip_answers_a_psfs_question_and_logs_no_exercise_skip(config: Config) -> None:
    p = Phone(config)
    p.send("6pm", at(0, 9))
    p.send("running 5 miles", at(0, 9, 1))
    assert "leave it out" in p.send("skip", at(0, 9, 2))
    assert p.plan.log == {} and p.plan.psfs_activity is None  # not asked weekly without a start
    q = Phone(config)
    q.send("6pm", at(0, 9))
    q.send("running 5 miles", at(0, 9, 1))
    q.send("4", at(0, 9, 2))
    for day in range(6):
        q.due(at(day, 18))
    q.due(at(6, 18))
    q.send("3", at(6, 18, 5))
    assert '"running 5 miles"' in q.send("0", at(6, 18, 6))
    assert "Thanks, noted" in q.send("SKIP", at(6, 18, 7))  # the check-in ends normally
    assert q.plan.log.get("2026-03-08") is None and q.plan.checkins == (("2026-03-08", 3),)
