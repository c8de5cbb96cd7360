"""Replies about reminders: the offer, DONE/SKIP/PAUSE/RESUME/TIME/ZONE, check-in answers; pure."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import Any

from bot.core import answers, times
from bot.core.model import DONE, REMINDER_OFFER, Alert, Effect, Patient, Reply, Step
from bot.core.plan import (
    ACTIVE,
    ASK_TIME,
    ASK_ZONE,
    CHECKIN_FLAGS,
    CHECKIN_KTW,
    CHECKIN_PAIN,
    COMMANDS,
    DECLINE_WORDS,
    EMERGENCY_FLAGS,
    ENDED,
    FLAG_OPTIONS,
    MEANINGFUL_KTW_CM,
    MEANINGFUL_PAIN,
    PAIN_RISING_RULE,
    PAUSED,
    RED_FLAG_RULE,
    UNCLEAR_RULE,
    Plan,
    PlanSettings,
    ktw_change,
    last_pain,
    next_due,
    pain_reference,
    pain_rising,
    save,
)
from bot.core.times import DAY_NAMES, WEEKDAYS, local_date
from bot.errors import AnswerError

# --- inbound -----------------------------------------------------------------------------------


def plan_replies(
    patient: Patient, word: str | None, text: str, now: datetime, *, settings: PlanSettings
) -> Step:
    """A reply about reminders: to the offer, a plan command, or a check-in answer."""
    plan = Plan.from_json(patient.plan) if patient.plan else None
    command, rest = _command_of(text)
    if plan is not None and command == "skip" and plan.awaiting == CHECKIN_KTW:
        command = None  # SKIP answers the knee-to-wall question
    if plan is not None and plan.status != ENDED and command is not None:
        return _command(patient, plan, command, rest, now, settings)
    if patient.conversation.step == REMINDER_OFFER:
        return _offer(patient, rest if command == "time" else text, now, settings)
    if plan is None or plan.status == ENDED:
        return Step(patient, (Reply("no_plan" if plan is None else "plan_over"),))
    if plan.awaiting is not None:
        return _awaited(patient, plan, text, now, settings)
    return Step(patient, (Reply("plan_help", _describe(plan)),))


def _command_of(text: str) -> tuple[str | None, str]:
    words = answers.clean(text).split(maxsplit=1)
    command = answers.normalize(words[0]) if words else ""
    if command not in COMMANDS:
        return None, text
    return command, words[1] if len(words) > 1 else ""


def _command(
    patient: Patient, plan: Plan, command: str, rest: str, now: datetime, settings: PlanSettings
) -> Step:
    if command in ("done", "skip"):
        return _log(patient, plan, "done" if command == "done" else "skipped", now, settings)
    if command == "pause":
        return save(patient, replace(plan, status=PAUSED, awaiting=None), Reply("plan_paused"))
    if command == "resume":
        if plan.hold is not None:
            return Step(patient, (Reply("plan_resume_held"),))
        context = {**_describe(plan), "already": plan.status == ACTIVE}
        return save(patient, replace(plan, status=ACTIVE), Reply("plan_resumed", context))
    awaiting = ASK_TIME if command == "time" else ASK_ZONE
    if not rest.strip():
        asked = replace(plan, awaiting=awaiting, invalid=0)
        return save(patient, asked, Reply(f"plan_ask_{awaiting}", _window(settings)))
    return _setting(patient, replace(plan, awaiting=awaiting), rest, settings)


def _log(patient: Patient, plan: Plan, status: str, now: datetime, settings: PlanSettings) -> Step:
    day = local_date(now, plan.zone)
    yesterday = day - timedelta(days=1)
    small_hours = times.local_time(now, plan.zone) < settings.quiet_start
    if small_hours and plan.last_sent == yesterday and yesterday.isoformat() not in plan.log:
        day = yesterday  # a reply after midnight answers last night's reminder
    logged = replace(plan, log={**plan.log, day.isoformat(): status})
    done = sum(1 for v in logged.log.values() if v == "done")
    return save(patient, logged, Reply("plan_logged", {"status": status, "done_count": done}))


def _setting(patient: Patient, plan: Plan, text: str, settings: PlanSettings) -> Step:
    """The answer to TIME or ZONE."""
    try:
        if plan.awaiting == ASK_TIME:
            chosen = times.parse_time_of_day(text, settings.time_words)
            at = _fit(chosen, settings)
            changed = replace(plan, at=at, awaiting=None, invalid=0)
            context = {**_describe(changed), "moved": at != chosen}
            return save(patient, changed, Reply("plan_time_set", context))
        changed = replace(plan, zone=times.parse_zone(text), awaiting=None, invalid=0)
        return save(patient, changed, Reply("plan_zone_set", _describe(changed)))
    except AnswerError as err:
        return _invalid(patient, plan, str(err), settings)


def _awaited(p: Patient, plan: Plan, text: str, now: datetime, settings: PlanSettings) -> Step:
    if plan.awaiting in (ASK_TIME, ASK_ZONE):
        return _setting(p, plan, text, settings)
    try:
        if plan.awaiting == CHECKIN_PAIN:
            pain = answers.parse_integer(text, 0, 10)
            asked = replace(plan, pending_pain=pain, awaiting=CHECKIN_FLAGS, invalid=0)
            return save(p, asked, Reply("plan_checkin_flags"))
        if plan.awaiting == CHECKIN_FLAGS:
            flags = answers.parse_multi(text, FLAG_OPTIONS)
            return _flags(p, plan, flags, local_date(now, plan.zone), settings)
        return _ktw(p, plan, answers.parse_knee_to_wall(text))
    except AnswerError as err:
        return _invalid(p, plan, str(err), settings)


def _flags(p: Patient, plan: Plan, flags: list[int], today: date, settings: PlanSettings) -> Step:
    """Re-triage: any red flag alerts staff and pauses the plan; pain rising twice offers a call."""
    pain = plan.pending_pain if plan.pending_pain is not None else 0
    plan = replace(plan, checkins=(*plan.checkins, (today.isoformat(), pain)))
    plan = replace(plan, pending_pain=None, awaiting=None, invalid=0)
    if flags:
        level = "emergency" if EMERGENCY_FLAGS & set(flags) else "urgent"
        held = replace(plan, status=PAUSED, hold="red_flag")
        alert = Alert(level, RED_FLAG_RULE)
        return save(p, held, Reply(f"plan_checkin_{level}"), effects=(alert,))
    replies: list[Reply] = []
    effects: tuple[Effect, ...] = ()
    if pain_rising(plan) and PAIN_RISING_RULE not in plan.alerted:
        effects = (Alert("callback", PAIN_RISING_RULE),)
        plan = replace(plan, alerted=(*plan.alerted, PAIN_RISING_RULE))
        replies.append(Reply("plan_offer_call", {"why": "pain_rising"}))
    if plan.ktw is None and (today - plan.start).days >= settings.ktw_from_day:
        plan = replace(plan, awaiting=CHECKIN_KTW)
        replies.append(Reply("plan_checkin_ktw"))
    elif not replies:
        replies.append(Reply("plan_checkin_thanks", {"pain": pain, "ktw_change": None}))
    return save(p, plan, *replies, effects=effects)


def _ktw(patient: Patient, plan: Plan, value: dict[str, Any]) -> Step:
    """Week 3: under 2 cm better and pain not down 2 points: offer a call."""
    plan = replace(plan, ktw=value, awaiting=None, invalid=0)
    change, ref, last = ktw_change(plan), pain_reference(plan), last_pain(plan)
    pain_down = ref is not None and last is not None and ref - last >= MEANINGFUL_PAIN
    if (change is None or change < MEANINGFUL_KTW_CM) and not pain_down:
        # Without a first measurement (a plan started from the web) there is nothing to compare.
        why = "no_baseline" if plan.baseline_ktw is None else "not_improving"
        return save(patient, plan, Reply("plan_offer_call", {"why": why}))
    return save(patient, plan, Reply("plan_checkin_thanks", {"pain": last, "ktw_change": change}))


def _invalid(patient: Patient, plan: Plan, reason: str, settings: PlanSettings) -> Step:
    """Re-prompt; after max_invalid, give up: no change, or for a check-in a staff callback."""
    if plan.invalid + 1 < settings.max_invalid:
        context = {"awaiting": plan.awaiting, "reason": reason, **_window(settings)}
        return save(
            patient, replace(plan, invalid=plan.invalid + 1), Reply("plan_reprompt", context)
        )
    reset = replace(plan, awaiting=None, invalid=0, pending_pain=None)
    if plan.awaiting in (ASK_TIME, ASK_ZONE):
        return save(patient, reset, Reply("plan_no_change"))
    unclear = (Alert("callback", UNCLEAR_RULE),)
    return save(patient, reset, Reply("plan_checkin_unclear"), effects=unclear)


# --- enrolment ---------------------------------------------------------------------------------


def _offer(patient: Patient, text: str, now: datetime, settings: PlanSettings) -> Step:
    """The reply to 'Reply a time like 7am for daily reminders, or NO'."""
    try:
        chosen = times.parse_time_of_day(text, settings.time_words)
        at = _fit(chosen, settings)
    except AnswerError as err:
        said = _yes_no(text)
        if said is False:
            done = replace(patient.conversation, step=DONE)
            return Step(replace(patient, conversation=done), (Reply("plan_declined"),))
        why = {"reason": "want_time" if said else str(err), **_window(settings)}
        return Step(patient, (Reply("plan_offer_reprompt", why),))
    plan = new_plan(patient, at, now, settings)
    enrolled = replace(patient, conversation=replace(patient.conversation, step=DONE))
    context = {**_describe(plan), "moved": at != chosen, "starts": _first_day(plan, now, settings)}
    return save(enrolled, plan, Reply("plan_enrolled", context))


def _first_day(plan: Plan, now: datetime, settings: PlanSettings) -> str:
    """'today', 'tomorrow' or the weekday of the first reminder."""
    first = next_due(plan, now, settings)
    if first is None:
        return "soon"
    ahead = (local_date(first, plan.zone) - local_date(now, plan.zone)).days
    return (
        ("today", "tomorrow")[ahead]
        if ahead < 2
        else DAY_NAMES[local_date(first, plan.zone).weekday()]
    )


def _fit(chosen: time, settings: PlanSettings) -> time:
    return times.fit_to_window(
        chosen, settings.quiet_start, settings.quiet_end, settings.early_from
    )


def _yes_no(text: str) -> bool | None:
    if answers.normalize(text) in DECLINE_WORDS:
        return False
    try:
        return answers.parse_yes_no(text)
    except AnswerError:
        return None


def new_plan(patient: Patient, at: time, now: datetime, settings: PlanSettings) -> Plan:
    """A plan in the zone the number suggests, from today if today's time is still ahead."""
    zone = times.zone_for_number(patient.phone, settings.clinic_zone)
    today = local_date(now, zone)
    start = today if times.local_instant(today, at, zone) > now else today + timedelta(days=1)
    pain = patient.conversation.answers.get("pain_run")
    ktw = answers.ktw_fields(patient.conversation.answers.get("ktw"))
    return Plan(
        zone=zone, at=at, start=start, days=settings.days, weekdays=settings.weekdays,
        check_in_weekday=settings.check_in_weekday,
        baseline_pain=pain if isinstance(pain, int) and not isinstance(pain, bool) else None,
        baseline_ktw=None if ktw is None else ktw["min"],
    )  # fmt: skip


def _describe(plan: Plan) -> dict[str, Any]:
    return {
        "time": times.describe_time(plan.at), "zone_label": times.describe_zone(plan.zone),
        "days_text": times.describe_days(plan.weekdays), "days": plan.days,
        "check_in_day": DAY_NAMES[WEEKDAYS.index(plan.check_in_weekday)],
    }  # fmt: skip


def _window(settings: PlanSettings) -> dict[str, str]:
    earliest, latest = settings.quiet_start, settings.quiet_end
    return {"earliest": times.describe_time(earliest), "latest": times.describe_time(latest)}
