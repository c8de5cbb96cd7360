"""Six simulated weeks on the home program, five ways patients really behave: what the patient
and the staff see, through the service, the reminder jobs and the outbox (all in-process)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.background import Background
from bot.core.model import Inbound
from bot.runtime import Runtime
from bot.scheduler import JobBook
from tests.conftest import EXERCISES_PATH, Clock

LA = ZoneInfo("America/Los_Angeles")
START = date(2026, 4, 6)  # a Monday; the plan runs Mon 6 Apr - Sun 26 Apr, the summary on the 27th
WEEKS = 6
INTAKE_LINES = ("Shall we start", "Reply Y or N", "automated assistant here")


class Patient:
    """One person's phone and the staff phones, on a clock that only the test moves."""

    def __init__(self, rt: Runtime, clock: Clock, phone: str = "+13105550142") -> None:
        self.rt, self.clock, self.phone = rt, clock, phone
        self.background = Background.console(rt)
        self.seen: list[tuple[datetime, str]] = []  # every message the patient got
        self.staff: list[str] = []  # every message the on-call phones got
        self.replies: list[str] = []
        self.sent = 0

    def text(self, body: str) -> str:
        self.sent += 1
        handled = self.rt.service.handle_inbound(
            self.phone, Inbound(body), self.clock(), f"SM{self.sent:032d}"
        )
        self.replies = handled.replies
        assert len(self.replies) <= 1, self.replies  # one message per reply: it arrives in order
        for reply in self.replies:
            assert_no_repeated_sentence(reply)
        self.seen += [(self.clock(), r) for r in self.replies]
        self._tick()
        return self.replies[0] if self.replies else ""

    def at(self, day: int, hour: int, minute: int = 0) -> Patient:
        """Move to local `hour:minute` on plan day `day` (0 = START), firing every job due."""
        end = datetime.combine(START + timedelta(days=day), time(hour, minute), LA).astimezone(UTC)
        assert end >= self.clock(), "the clock only moves forward"
        jobs = self.rt.reminders.jobs
        assert isinstance(jobs, JobBook)
        while (due := jobs.store.get_next_run_time()) is not None and due <= end:
            self.clock.now = max(due, self.clock())
            self._tick()
        self.clock.now = end
        self._tick()
        return self

    def _tick(self) -> None:
        for to, body in self.background.step(self.clock()):
            if to == self.phone:
                assert_no_repeated_sentence(body)
                self.seen.append((self.clock(), body))
            else:
                self.staff.append(body)

    def enrol(self, activity: str = "running 5 miles", score: str = "4") -> None:
        self.at(0, 9)
        self.text("hi")
        for _qid, answer in EXERCISES_PATH:  # run pain 3/10 at intake, knee-to-wall L 8 R 12
            self.text(answer)
        assert "Calf release" in self.replies[0] and "a time like 8am" in self.replies[0]
        assert "knee-to-wall test shows limited ankle movement" in self.replies[0]
        enrolled = self.text("6pm")
        assert "6:00 pm Pacific time" in enrolled and "starting today" in enrolled
        assert "name one activity" in enrolled
        assert "running 5 miles" in self.text(activity)
        assert f"{score}/10" in self.text(score)

    def got(self, pattern: str, since: int = 0) -> list[str]:
        """Messages the patient got from plan day `since` on that match `pattern`."""
        start = datetime.combine(START + timedelta(days=since), time(0), LA)
        return [body for when, body in self.seen if when >= start and re.search(pattern, body)]

    @property
    def plan(self) -> dict[str, Any]:
        plan = self.rt.store.load(self.phone).plan
        assert plan is not None
        return dict(plan)

    def staff_alerts(self, level: str) -> list[str]:
        """One message per alert (every on-call phone gets a copy of the urgent ones)."""
        found: dict[str, str] = {}
        for m in self.staff:
            if (ref := re.search(rf" {level.upper()} alert (\w+)", m)) is not None:
                found.setdefault(ref.group(1), m)
        return list(found.values())


def assert_no_repeated_sentence(message: str) -> None:
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", message) if len(s.strip()) > 12]
    assert len(sentences) == len(set(sentences)), message


def is_sunday(day: int) -> bool:
    return (START + timedelta(days=day)).weekday() == 6


@pytest.fixture
def patient(runtime: Runtime, clock: Clock) -> Patient:
    clock.now = datetime.combine(START, time(8), LA).astimezone(UTC)
    return Patient(runtime, clock)


def never_restarted(p: Patient) -> None:
    """After enrolment the intake never comes back, whatever they text."""
    after = p.got("|".join(INTAKE_LINES), since=0)
    assert after == [] or all("automated assistant here" not in m for m in after[1:])
    assert not any(line in m for m in p.got(".", since=1) for line in INTAKE_LINES)


def test_diligent_does_every_day_and_sees_real_progress(patient: Patient) -> None:
    p = patient
    p.enrol(activity="running 5 miles", score="4")
    weekly = iter(("2", "1", "1"))
    psfs = iter(("6", "7", "8"))
    for day in range(WEEKS * 7):
        p.at(day, 18, 30)
        if day >= 21:
            continue
        if is_sunday(day):
            assert "Any of these now?" in p.text(next(weekly))
            assert '"running 5 miles"' in p.text("0")
            reply = p.text(next(psfs))
            if day == 20:  # week 3 repeats the ankle test
                assert "knee-to-wall" in reply
                assert "+2.0 cm" in p.text("L 10 R 12")
        else:
            assert p.text("DONE").startswith("Logged, nice work!")
    reminders = p.got(r"exercise day \d+ of 18")
    assert [int(re.search(r"day (\d+) of", m).group(1)) for m in reminders] == list(range(1, 19))  # type: ignore[union-attr]
    assert len(p.got("Impact PT weekly check-in")) == 3
    end = p.got("plan is complete")
    assert len(end) == 1 and "You did 18 of 18 exercise days" in end[0]
    assert "run pain went from 3/10 to 1/10" in end[0]
    assert '"running 5 miles" from 4/10 to 8/10, a real improvement' in end[0]
    assert '"running 5 miles" today, 0 (unable)' in end[0]
    assert p.got(".", since=22) == []  # nothing more after the summary
    final = p.text("9")  # the last PSFS question, answered late
    assert "went from 4/10 to 9/10: a real improvement" in final
    assert p.staff == []  # a plan going well pages nobody
    export = p.rt.service.export()[0]
    assert export["psfs_baseline"] == 4 and export["psfs_final"] == 9
    assert [w["score"] for w in export["psfs_weekly"]] == [6, 7, 8]
    never_restarted(p)


def test_forgetful_answers_late_early_and_after_midnight(patient: Patient) -> None:
    p = patient
    p.enrol()
    for day in range(21):
        if day in (2, 9, 16):
            continue  # forgot entirely (no reply that day)
        if day == 4:
            p.at(day + 1, 0, 40)  # in bed before saying so: counts for last night
            assert "1 of 18" not in p.text("done")
            continue
        if day == 6:  # missed Sunday's check-in; answers Monday morning
            p.at(7, 9)
            assert "Any of these now?" in p.text("3")
            assert '"running 5 miles"' in p.text("0")
            p.text("5")
            continue
        if day == 12:  # Saturday: sends the pain score a day early
            p.at(day, 18, 30)
            p.text("DONE")
            assert "count that for this week's check-in" in p.text("pain was 2 this week")
            p.text("0")
            p.text("6")
            continue
        if day == 13:
            p.at(day, 20)  # the check-in answered early is not asked again
            continue
        if day == 20:  # the last check-in, answered the next morning (the summary is due at 6pm)
            p.at(21, 9)
            p.text("2")
            p.text("0")
            p.text("7")
            continue
        p.at(day, 18, 30)
        if not is_sunday(day):
            p.text("DONE")
    plan = p.plan
    assert [c["date"] for c in plan["checkins"]] == ["2026-04-12", "2026-04-19", "2026-04-26"]
    assert plan["log"]["2026-04-10"] == "done"  # the 00:40 DONE counted for Friday
    assert (
        len(p.got("Impact PT weekly check-in")) == 2
    )  # Sunday 19 Apr was answered on the Saturday
    p.at(21, 19)
    end = p.got("plan is complete")
    assert len(end) == 1 and "You did 15 of 18 exercise days" in end[0]
    assert p.staff == []  # a day missed here and there is not stalling
    never_restarted(p)


def test_chatty_patient_stays_on_the_plan_whatever_they_text(patient: Patient) -> None:
    p = patient
    p.enrol()
    p.at(0, 18, 30)
    assert p.text("thanks!!").startswith("You're welcome!")
    p.at(3, 10)  # 2.5 days of silence: more than the 24 h intake expiry
    again = p.text("what were those exercises again?")
    assert "Calf release" in again and "Knee-to-wall ankle rocks" in again
    assert "CALL" in p.text("Can I still run my 10k race on Saturday")
    assert "Great to hear" in p.text("knee feels better today :)")
    assert "5/10" in p.text("my knee is a bit sore after the run")
    assert "Your reminders: 6:00 pm" in p.text("hello")
    assert p.text("EXERCISES").startswith("Here's your home program")
    assert "1 of 18 exercise days" in p.text("DONE")
    p.at(6, 18, 30)  # Sunday check-in, answered with chat in between
    assert "CALL" in p.text("how do I know if it's bad pain?")
    assert "pain during runs this week, 0 to 10" in p.replies[0]  # and the question again
    assert "Any of these now?" in p.text("3/10")
    p.text("none")
    p.text("5")
    for day in range(7, WEEKS * 7):
        p.at(day, 18, 30)
        if day < 21 and not is_sunday(day):
            p.text("done")
    assert len(p.got(r"exercise day \d+ of 18")) == 18  # the chat never stopped a reminder
    assert p.staff == []  # questions offer a call; only CALL pages staff
    p.text("CALL")
    assert len(p.staff_alerts("callback")) == 1
    never_restarted(p)


def test_worsening_patient_gets_advice_a_call_and_a_safe_pause(patient: Patient) -> None:
    p = patient
    p.enrol()
    for day in range(6):
        p.at(day, 18, 30)
        p.text("DONE")
    p.at(6, 18, 30)
    p.text("9")  # intake run pain was 3
    reply = p.text("0")
    assert "9/10 during runs is too much" in reply and "ease off" in reply
    assert "Keep going" not in reply
    assert len(p.staff_alerts("priority_call")) == 1 and "checkin_pain_high" in p.staff[0]
    p.text("3")  # the PSFS score still asked
    p.at(7, 18, 30)
    assert p.got("exercise day 7 of 18", since=7)  # nothing paused
    p.text("DONE")
    for day in range(8, 13):
        p.at(day, 18, 30)
        p.text("DONE")
    p.at(13, 18, 30)
    p.text("5")
    assert "2 points more than the 3/10" in p.text("0")  # a rise of 2 over intake
    assert len(p.staff_alerts("priority_call")) == 2
    p.text("3")
    p.at(14, 18, 30)
    p.text("skip")
    p.at(20, 18, 30)
    p.text("6")
    assert "medical care today" in p.text("2")  # the check-in's red flag: calf swollen
    assert len(p.staff_alerts("urgent")) == 1 and p.plan["status"] == "paused"
    paused = p.text("DONE")
    assert "paused" in paused and "Logged" not in paused
    assert "ER" in p.text("ok I'm going to the ER")
    assert "paused" in p.text("PAUSE")
    p.at(23, 18, 30)
    assert p.got("exercise day", since=21) == []  # no exercise reminders while held
    done_before = sum(1 for v in p.plan["log"].values() if v == "done")
    assert done_before == 12  # nothing counted while paused
    ref = re.search(r"URGENT alert (\w{5,})", p.staff_alerts("urgent")[0]).group(1)  # type: ignore[union-attr]
    staff = p.rt.service.alerts.staff.on_call[0]
    assert "call" in p.text("RESUME").lower() and p.plan["status"] == "paused"  # staff first
    cleared = p.rt.service.handle_inbound(staff, Inbound(f"CLEAR {ref}"), p.clock()).replies
    assert ref in cleared[0]
    assert "Reminders back on" in p.text("RESUME") and p.plan["status"] == "active"
    for day in range(24, WEEKS * 7):
        p.at(day, 18, 30)
    assert p.got(r"exercise day \d+ of", since=24) == []  # its 21 days were over
    end = p.got("plan is complete", since=24)
    assert len(end) == 1 and "You did 12 of 18 exercise days" in end[0]
    assert "run pain went from 3/10 to 6/10" in end[0]
    never_restarted(p)


def test_drops_out_gets_one_nudge_and_comes_back(patient: Patient) -> None:
    p = patient
    p.enrol()
    for day in range(4):
        p.at(day, 18, 30)
        p.text("DONE")
    for day in range(4, 12):  # silent for 8 days
        p.at(day, 18, 30)
    nudges = p.got("haven't heard from you")
    assert len(nudges) == 1 and "CALL" in nudges[0]  # one kind nudge, on the 5th silent day
    assert p.got("haven't heard from you", since=8) == [nudges[0]]
    stalled = p.staff_alerts("lead")
    assert len(stalled) == 1 and "plan_stalled" in stalled[0]
    p.at(12, 9)
    back = p.text("sorry, I was sick, back at it now")
    assert "Shall we start" not in back and back.startswith("Welcome back")
    assert "Your reminders" in back
    for day in (12, 13 + 1, 15):  # Sunday 19 is a check-in day
        p.at(day, 18, 30)
        p.text("SKIP")
    assert "a few days skipped in a row" in p.replies[0]  # the third SKIP in a row
    assert len(p.staff_alerts("lead")) == 2
    p.at(16, 18, 30)
    assert "Logged" in p.text("DONE")
    for day in range(17, WEEKS * 7):
        p.at(day, 18, 30)
        if day < 21 and not is_sunday(day):
            p.text("DONE")
    end = p.got("plan is complete")
    assert len(end) == 1 and "You did 8 of 18 exercise days" in end[0]
    assert len(p.staff_alerts("lead")) == 2  # silence after the plan ended flags nobody
    never_restarted(p)


def test_after_an_emergency_going_to_the_er_gets_a_fitting_reply(patient: Patient) -> None:
    p = patient
    p.text("hi")
    p.text("yes")
    assert "call 911 now" in p.text("1")
    reply = p.text("ok I'm going to the ER")
    assert "emergency room now" in reply and "Thanks for chatting" not in reply


def test_a_silent_restarted_intake_expires_back_to_the_plan(patient: Patient) -> None:
    p = patient
    p.enrol()
    p.at(1, 12)
    p.text("RESTART")
    p.text("yes")
    p.at(3, 12)  # two days later, mid-questionnaire
    reply = p.text("thanks")
    assert reply.startswith("You're welcome!") and "start over" not in reply
    p.at(3, 18, 30)
    assert p.got(r"exercise day \d+ of", since=3)  # the reminders carried on
