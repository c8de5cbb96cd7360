"""Reminder jobs through the real APScheduler triggers and `fire`, on fakeredis: DST, quiet hours,
exactly once, STOP, PAUSE, 21610, catch-up, the 21-day plan in `bot chat`."""

from __future__ import annotations

import io
import pickle
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot import keys
from bot.background import Background
from bot.core.model import Conversation, Inbound, Patient
from bot.core.plan import WEEKDAYS, Plan
from bot.outbox import OutboxConsumer, drain
from bot.runtime import Runtime
from bot.scheduler import JobBook
from bot.settings import Settings
from bot.simulator import run_chat
from bot.twilio_sender import TwilioSender, TwilioSettings
from tests.conftest import EXERCISES_PATH
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

LA, NY = "America/Los_Angeles", "America/New_York"
PHONE = "+13105551234"


def enrol(rt: Runtime, *, zone: str = LA, at: time = time(9, 15), start: date,
          days: int = 21, step: str = "done", phone: str = PHONE) -> str:  # fmt: skip
    """Store a patient with an active plan (as the engine leaves it) and sync its job."""
    plan = Plan(zone=zone, at=at, start=start, days=days, weekdays=WEEKDAYS[:6],
                check_in_weekday="sun")  # fmt: skip
    patient = Patient(phone, conversation=Conversation(step=step), plan=plan.to_json())
    rt.store.update(phone, lambda _p, pipe: rt.store.queue_save(pipe, patient))
    rt.reminders.sync(
        patient, datetime.combine(start, time(0), ZoneInfo(zone)) - timedelta(hours=6)
    )
    return rt.store.patient_id(phone)


def book(rt: Runtime) -> JobBook:
    assert isinstance(rt.reminders.jobs, JobBook)
    return rt.reminders.jobs


def run_until(rt: Runtime, end: datetime) -> list[tuple[datetime, str]]:
    """Wake exactly when the job store says a job is due (the triggers pick every instant)."""
    sim, sent = Background.console(rt), []
    while (due := book(rt).store.get_next_run_time()) is not None and due <= end:
        sent += [(due, body) for to, body in sim.step(due) if not rt.service.is_staff(to)]
    return sent


def local(at: datetime, zone: str) -> datetime:
    return at.astimezone(ZoneInfo(zone))


@pytest.mark.parametrize(
    ("zone", "switch"),
    [(LA, date(2026, 3, 8)), (LA, date(2026, 11, 1)), (NY, date(2026, 3, 8)),
     (NY, date(2026, 11, 1))],
)  # fmt: skip
def test_one_message_each_local_day_at_the_local_time_across_dst(
    runtime: Runtime, zone: str, switch: date
) -> None:
    enrol(runtime, zone=zone, start=switch - timedelta(days=4))
    sent = run_until(runtime, datetime.combine(switch + timedelta(days=4), time(23), UTC))
    days = [local(at, zone).date() for at, _ in sent]
    assert days == [switch + timedelta(days=d) for d in range(-4, 5)]  # one a day, none missed
    assert {local(at, zone).time() for at, _ in sent} == {time(9, 15)}
    offsets = {local(at, zone).utcoffset() for at, _ in sent}
    assert len(offsets) == 2  # the UTC instant moved with the clocks
    assert "check-in" in sent[4][1]  # the switch day is a Sunday: the check-in replaces it


def test_quiet_hours_a_late_wake_sends_nothing_and_tomorrow_comes_once(runtime: Runtime) -> None:
    pid = enrol(runtime, at=time(8), start=date(2026, 6, 1))
    la = ZoneInfo(LA)
    late = datetime(2026, 6, 1, 21, 30, tzinfo=la)  # the worker was down all day
    assert runtime.reminders.fire(pid, late) == "quiet"
    sim = Background.console(runtime)
    assert sim.step(late) == []  # the overdue job ran (coalesced) and sent nothing
    job = book(runtime).store.lookup_job(keys.reminder_job(pid))
    assert job.next_run_time == datetime(2026, 6, 2, 8, tzinfo=la)
    assert len(sim.step(datetime(2026, 6, 2, 8, tzinfo=la))) == 1


def test_a_time_after_quiet_hours_never_sends(runtime: Runtime) -> None:
    enrol(runtime, at=time(21, 30), start=date(2026, 6, 1))  # only reachable by a bad import
    assert run_until(runtime, datetime(2026, 6, 5, tzinfo=UTC)) == []


def test_worker_down_all_morning_sends_late_once_but_skips_a_day_already_gone(
    runtime: Runtime,
) -> None:
    enrol(runtime, at=time(8), start=date(2026, 6, 1))
    la, sim = ZoneInfo(LA), Background.console(runtime)
    assert len(sim.step(datetime(2026, 6, 1, 14, tzinfo=la))) == 1  # 6 h late, same day: sent
    assert sim.step(datetime(2026, 6, 1, 15, tzinfo=la)) == []
    # Down from before day 2's time until day 3 at 06:00: day 2 is gone, day 3 not yet due.
    assert sim.step(datetime(2026, 6, 3, 6, tzinfo=la)) == []
    assert len(sim.step(datetime(2026, 6, 3, 8, tzinfo=la))) == 1


def test_a_double_fire_sends_once(runtime: Runtime) -> None:
    pid = enrol(runtime, start=date(2026, 6, 1))
    now = datetime(2026, 6, 1, 9, 15, tzinfo=ZoneInfo(LA))
    assert runtime.reminders.fire(pid, now) == "queued reminder"
    assert runtime.reminders.fire(pid, now) == "sent"
    # An old copy of the plan (last_sent lost) is still caught by the sent mark.
    patient = runtime.store.load(PHONE)
    stale = {**dict(patient.plan or {}), "last_sent_local_date": None}
    runtime.store.update(
        PHONE, lambda p, pipe: runtime.store.queue_save(pipe, replace(p, plan=stale))
    )
    assert runtime.reminders.fire(pid, now) == "sent"
    assert runtime.redis.xlen(keys.OUTBOX) == 1
    assert runtime.redis.exists(keys.reminder_sent(pid, "2026-06-01", "reminder"))


def test_mid_questionnaire_the_reminder_waits_and_comes_after(runtime: Runtime) -> None:
    pid = enrol(runtime, start=date(2026, 6, 1), step="age")
    now = datetime(2026, 6, 1, 9, 15, tzinfo=ZoneInfo(LA))
    assert runtime.reminders.fire(pid, now) == "busy"
    retry = book(runtime).store.lookup_job(keys.reminder_retry_job(pid))
    assert retry.next_run_time == now + timedelta(minutes=10)
    done = replace(runtime.store.load(PHONE), conversation=Conversation(step="done"))
    runtime.store.update(PHONE, lambda _p, pipe: runtime.store.queue_save(pipe, done))
    assert len(Background.console(runtime).step(now + timedelta(minutes=10))) == 1
    assert book(runtime).store.lookup_job(keys.reminder_retry_job(pid)) is None  # one-off


def finish_triage(rt: Runtime, phone: str, now: datetime, reply: str = "7pm") -> None:
    rt.service.handle_inbound(phone, Inbound("hi"), now)
    for _qid, text in EXERCISES_PATH:
        rt.service.handle_inbound(phone, Inbound(text), now)
    rt.service.handle_inbound(phone, Inbound(reply), now)


def test_enrolment_schedules_and_stop_cancels_every_pending_job(runtime: Runtime) -> None:
    now = datetime(2026, 6, 1, 17, tzinfo=UTC)  # 10:00 in Los Angeles
    finish_triage(runtime, PHONE, now)
    pid = runtime.store.patient_id(PHONE)
    jobs = book(runtime)
    job = jobs.store.lookup_job(keys.reminder_job(pid))
    assert job.next_run_time == datetime(2026, 6, 1, 19, tzinfo=ZoneInfo(LA))
    assert job.args == (pid,) and job.func_ref == "bot.scheduler:fire_job"
    assert PHONE[-7:].encode() not in pickle.dumps(job.__getstate__())  # ids only, no number
    assert (job.misfire_grace_time, job.coalesce, job.max_instances) == (14 * 3600, True, 1)
    jobs.retry(pid, now + timedelta(minutes=10))
    runtime.service.handle_inbound(PHONE, Inbound("STOP"), now)
    assert jobs.jobs() == []
    assert run_until(runtime, now + timedelta(days=3)) == []


def test_pause_removes_the_job_resume_and_time_change_put_it_back(runtime: Runtime) -> None:
    now = datetime(2026, 6, 1, 17, tzinfo=UTC)
    finish_triage(runtime, PHONE, now)
    pid = runtime.store.patient_id(PHONE)
    runtime.service.handle_inbound(PHONE, Inbound("PAUSE"), now)
    assert book(runtime).jobs() == []
    runtime.service.handle_inbound(PHONE, Inbound("RESUME"), now)
    runtime.service.handle_inbound(PHONE, Inbound("TIME 8:30am"), now)
    (job,) = book(runtime).jobs()
    assert job.id == keys.reminder_job(pid)
    assert job.next_run_time == datetime(2026, 6, 2, 8, 30, tzinfo=ZoneInfo(LA))


def test_unchanged_schedule_is_not_rewritten_so_a_due_job_still_runs(runtime: Runtime) -> None:
    pid = enrol(runtime, start=date(2026, 6, 1))
    due = datetime(2026, 6, 1, 9, 15, tzinfo=ZoneInfo(LA))
    runtime.reminders.sync(runtime.store.load(PHONE), due + timedelta(seconds=30))
    assert book(runtime).store.lookup_job(keys.reminder_job(pid)).next_run_time == due


def test_a_21610_from_twilio_ends_the_plan(runtime: Runtime, settings: Settings) -> None:
    pid = enrol(runtime, start=date(2026, 6, 1))
    with FakeTwilio() as fake:
        fake.fail_for(PHONE, 400, 21610)
        sender = TwilioSender(TwilioSettings(ACCOUNT_SID, AUTH_TOKEN, from_number="+19495550000",
                                             api_base_url=fake.base_url))  # fmt: skip
        day1 = datetime(2026, 6, 1, 9, 15, tzinfo=ZoneInfo(LA))
        consumer = OutboxConsumer(runtime.redis, sender, consumer_name="t", rate=None, block_ms=0,
                                  clock=day1.timestamp)  # sent that morning  # fmt: skip
        assert book(runtime).run_due(day1, runtime.reminders.fire) == 1
        drain(consumer)
        assert runtime.store.is_opted_out(PHONE)
        assert runtime.reminders.fire(pid, day1 + timedelta(days=1)) == "opted_out"
        assert book(runtime).jobs() == []
        assert fake.count_to(PHONE) == 0


def test_catch_up_gives_a_lost_job_back_waking_now(runtime: Runtime) -> None:
    pid = enrol(runtime, start=date(2026, 6, 1))
    enrol(runtime, start=date(2026, 6, 1), phone="+13105559999")
    book(runtime).remove(pid)
    now = datetime(2026, 6, 1, 12, tzinfo=ZoneInfo(LA))
    assert runtime.reminders.catch_up(now) == 1
    assert runtime.reminders.catch_up(now) == 0
    sent = Background.console(runtime).step(now)  # today's, late but in allowed hours
    assert sorted(to for to, _ in sent) == ["+13105551234", "+13105559999"]


def test_forget_deletes_the_id_mapping_jobs_and_sent_marks(runtime: Runtime) -> None:
    pid = enrol(runtime, start=date(2026, 6, 1))
    runtime.reminders.fire(pid, datetime(2026, 6, 1, 9, 15, tzinfo=ZoneInfo(LA)))
    runtime.store.forget(PHONE)
    assert runtime.store.find_patient_id(PHONE) is None and runtime.store.phone_of(pid) is None
    assert book(runtime).jobs() == []
    assert not runtime.redis.keys(keys.reminder_sent_pattern(pid))
    # Left: the outbox's 7-day dedupe marks, which name only the now meaningless random id.
    assert all(k.startswith("bot:outbox:enq:") for k in runtime.redis.keys(f"*{pid}*"))


def test_the_whole_21_day_plan_in_bot_chat(settings: Settings) -> None:
    script = ["hi", *(text for _qid, text in EXERCISES_PATH), "8am"]
    script += ["/advance 1d", "DONE"] * 6 + ["/advance 1d", "3", "0"]  # day 7: Sunday
    script += ["/advance 1d", "DONE"] * 17
    path = settings.spool_dir.parent / "plan.txt"
    path.write_text("\n".join(script) + "\n", encoding="utf-8")
    out = io.StringIO()
    start = datetime(2026, 3, 2, 18, tzinfo=UTC)  # Monday 10:00 in Los Angeles
    run_chat(replace(settings, redis_url=None), PHONE, str(path), out, start=start)
    text = out.getvalue()
    assert text.count("time for today's home exercises") == 18  # Mon-Sat for 21 days
    assert text.count("weekly check-in") == 3
    assert text.count("plan is complete") == 1
    assert "You did 17 of 18 exercise days" in text  # the check-in Sunday had no DONE day


def test_catch_up_puts_right_a_job_whose_time_change_was_lost(runtime: Runtime) -> None:
    pid = enrol(runtime, start=date(2026, 6, 1))  # job at 09:15
    moved = Plan(zone=LA, at=time(18, 0), start=date(2026, 6, 1), days=21,
                 weekdays=WEEKDAYS[:6], check_in_weekday="sun")  # fmt: skip
    patient = Patient(PHONE, conversation=Conversation(step="done"), plan=moved.to_json())
    runtime.store.update(PHONE, lambda _p, pipe: runtime.store.queue_save(pipe, patient))
    # (the process died before the job was rescheduled)
    now = datetime(2026, 6, 1, 7, tzinfo=ZoneInfo(LA))
    assert runtime.reminders.catch_up(now) == 1
    assert runtime.reminders.catch_up(now) == 0  # nothing more to put right
    sent = run_until(runtime, datetime(2026, 6, 1, 23, tzinfo=ZoneInfo(LA)))
    assert [local(at, LA).time() for at, _ in sent] == [time(18, 0)]
    assert pid in book(runtime).ids()
