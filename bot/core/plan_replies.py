"""Replies from a patient with a plan (or offered one): commands, enrolment, anything else; pure."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta
from typing import Any

from bot.core import answers, times
from bot.core.escalation import WEB_TIME
from bot.core.model import DONE, REMINDER_OFFER, Alert, Patient, Reply, Step
from bot.core.plan import (
    ACTIVE,
    ASK_TIME,
    ASK_ZONE,
    CHECKIN_KTW,
    COMMANDS,
    DECLINE_WORDS,
    ENDED,
    PAUSED,
    PSFS_ACTIVITY,
    PSFS_BASELINE,
    PSFS_FINAL,
    PSFS_WEEKLY,
    STALLED_RULE,
    Plan,
    PlanSettings,
    done_count,
    exercise_days,
    next_due,
    save,
)
from bot.core.plan_checkin import awaited, early_checkin, invalid, window
from bot.core.plan_talk import aside, kind_of, talk
from bot.core.times import DAY_NAMES, WEEKDAYS, local_date
from bot.errors import AnswerError

SKIPPABLE = frozenset({CHECKIN_KTW, PSFS_ACTIVITY, PSFS_BASELINE, PSFS_WEEKLY, PSFS_FINAL})
WEB_INVITE = "web_invite"  # set on the conversation a web visitor's SMS invitation starts


def plan_replies(
    patient: Patient, word: str | None, text: str, now: datetime, *, settings: PlanSettings
) -> Step:
    """A patient with a plan always gets a plan reply; nothing here restarts the intake."""
    plan = Plan.from_json(patient.plan) if patient.plan else None
    back = plan is not None and plan.stalled_at is not None  # the first word since a nudge
    if plan is not None and back:
        plan = replace(plan, stalled_at=None)
        patient = replace(patient, plan=plan.to_json())
    command, rest = _command_of(text, plan)
    if plan is not None and command is not None:
        if plan.status == ENDED:
            asking = _still_asking(plan, settings) if not _long_over(plan, now, settings) else ()
            return Step(patient, (Reply("plan_over"), *asking))
        return _command(patient, plan, command, rest, now, settings)
    if patient.conversation.step == REMINDER_OFFER:
        return _offer(patient, rest if command == "time" else text, command, now, settings)
    if plan is None:
        return Step(patient, (Reply("no_plan"),))
    if plan.awaiting in (ASK_TIME, ASK_ZONE):
        return setting(patient, plan, text, settings)
    if plan.awaiting is not None and not (_long_over(plan, now, settings) and _no_score(text)):
        return awaited(patient, plan, text, now, settings)
    if plan.status != ENDED and (step := early_checkin(patient, plan, text, now, settings)):
        return step
    if plan.status != ENDED and kind_of(text, settings) == "done":  # "did my exercises"
        return _command(patient, plan, "done", "", now, settings)
    return talk(patient, plan, text, settings, {**describe(plan), "back": back})


def _long_over(plan: Plan, now: datetime, settings: PlanSettings) -> bool:
    """The plan ended more than `late_checkin_days` ago: its last question is not asked again
    (a score still answers it)."""
    end = plan.start + timedelta(days=plan.days)
    late = (local_date(now, plan.zone) - end).days > settings.late_checkin_days
    return plan.status == ENDED and late


def _no_score(text: str) -> bool:
    try:
        answers.parse_integer(text, 0, 10)
    except AnswerError:
        return True
    return False


def _still_asking(plan: Plan, settings: PlanSettings) -> tuple[Reply, ...]:
    """The open question again, after a reply about something else."""
    if plan.awaiting is None:
        return ()
    context = {"awaiting": plan.awaiting, "reason": "aside", "activity": plan.psfs_activity}
    return (Reply("plan_reprompt", {**context, **window(settings)}),)


def _command_of(text: str, plan: Plan | None) -> tuple[str | None, str]:
    words = answers.clean(text).split(maxsplit=1)
    command = answers.normalize(words[0]) if words else ""
    if command not in COMMANDS:
        return None, text
    awaiting = plan.awaiting if plan is not None else None
    if command == "skip" and awaiting in SKIPPABLE:
        return None, text  # SKIP answers the question
    if awaiting == PSFS_ACTIVITY and len(words) > 1:
        return None, text  # "time trials" is an activity, not TIME
    return command, words[1] if len(words) > 1 else ""


def _command(
    patient: Patient, plan: Plan, command: str, rest: str, now: datetime, settings: PlanSettings
) -> Step:
    if command in ("done", "skip"):
        if plan.status == PAUSED or plan.hold:  # paused means paused: nothing is logged
            return Step(patient, (Reply("plan_paused_note", {"held": plan.hold is not None}),))
        logged = _log(patient, plan, "done" if command == "done" else "skipped", now, settings)
        return logged.then(*_still_asking(plan, settings))
    if command == "pause":
        context = {"already": plan.status == PAUSED, "held": plan.hold is not None}
        return save(
            patient, replace(plan, status=PAUSED, awaiting=None), Reply("plan_paused", context)
        )
    if command == "resume":
        if plan.hold is not None:
            return Step(patient, (Reply("plan_resume_held"),))
        context = {**describe(plan), "already": plan.status == ACTIVE}
        return save(patient, replace(plan, status=ACTIVE), Reply("plan_resumed", context))
    awaiting = ASK_TIME if command == "time" else ASK_ZONE
    if not rest.strip():
        asked = replace(plan, awaiting=awaiting, invalid=0)
        return save(patient, asked, Reply(f"plan_ask_{awaiting}", window(settings)))
    return setting(patient, replace(plan, awaiting=awaiting), rest, settings)


def _log(patient: Patient, plan: Plan, status: str, now: datetime, settings: PlanSettings) -> Step:
    day = local_date(now, plan.zone)
    yesterday = day - timedelta(days=1)
    small_hours = times.local_time(now, plan.zone) < settings.quiet_start
    if small_hours and plan.last_sent == yesterday and yesterday.isoformat() not in plan.log:
        day = yesterday  # a reply after midnight answers last night's reminder
    days, again = exercise_days(plan), plan.log.get(day.isoformat()) == status
    # A SKIP on a day without exercises has nothing to skip, and starts no run of skips.
    skip_nothing = status == "skipped" and day not in days
    logged = plan if skip_nothing else replace(plan, log={**plan.log, day.isoformat(): status})
    context = {"status": status, "done_count": done_count(logged), "again": again,
               "planned": len(days), "rest_day": day not in days}  # fmt: skip
    if skip_nothing:
        return Step(patient, (Reply("plan_logged", context),))
    if status == "skipped" and not again and _skips_in_a_row(logged) == settings.stalled_skips:
        nudge = Reply("plan_nudge", {**context, "why": "skips"})
        return save(patient, logged, nudge, effects=(Alert("lead", STALLED_RULE),))
    return save(patient, logged, Reply("plan_logged", context))


def _skips_in_a_row(plan: Plan) -> int:
    """SKIPs since the last DONE (days without a reply neither count nor break the run)."""
    run = 0
    for _day, status in sorted(plan.log.items(), reverse=True):
        if status == "done":
            break
        run += status == "skipped"
    return run


def setting(patient: Patient, plan: Plan, text: str, settings: PlanSettings) -> Step:
    """The answer to TIME or ZONE."""
    try:
        if plan.awaiting == ASK_TIME:
            chosen = times.parse_time_of_day(text, settings.time_words, window=hours(settings))
            changed = replace(plan, at=fit(chosen, settings), awaiting=None, invalid=0)
            context = {**describe(changed), **window(settings), "moved": moved(chosen, settings)}
            return save(patient, changed, Reply("plan_time_set", context))
        changed = replace(plan, zone=times.parse_zone(text), awaiting=None, invalid=0)
        return save(patient, changed, Reply("plan_zone_set", describe(changed)))
    except AnswerError as err:
        return invalid(patient, plan, str(err), settings)


# --- enrolment ---------------------------------------------------------------------------------


def _offer(
    patient: Patient, text: str, command: str | None, now: datetime, settings: PlanSettings
) -> Step:
    """The reply to 'Reply a time like 8am for daily reminders, or NO' (or a web invitation)."""
    conv = patient.conversation
    invited_at = conv.answers.get(WEB_TIME)
    said = _yes_no(text)
    try:
        if said is True and isinstance(invited_at, str):
            chosen = time.fromisoformat(invited_at)
        else:
            chosen = times.parse_time_of_day(text, settings.time_words, window=hours(settings))
    except (AnswerError, ValueError) as err:
        if said is False:
            done = replace(conv, step=DONE)
            return Step(replace(patient, conversation=done), (Reply("plan_declined"),))
        asked = said or (command == "time" and not text.strip())
        # "thanks", "the exercises?"; to a web invitation, "what is this?" is about our text
        invited = _invited(invited_at, settings)
        lead = None if asked or invited else aside(text, None, settings)
        reason = "want_time" if asked else "aside" if lead else str(err)
        why = {"reason": reason, **window(settings), "invited": invited}
        return Step(patient, (*([lead] if lead else []), Reply("plan_offer_reprompt", why)))
    plan = replace(new_plan(patient, fit(chosen, settings), now, settings), awaiting=PSFS_ACTIVITY)
    enrolled = replace(patient, conversation=replace(conv, step=DONE))
    context = {**describe(plan), **window(settings), "moved": moved(chosen, settings),
               "starts": _first_day(plan, now, settings)}  # fmt: skip
    program = (Reply("plan_program", {"again": False}),) if conv.answers.get(WEB_INVITE) else ()
    return save(
        enrolled, plan, *program, Reply("plan_enrolled", context), Reply("plan_psfs_activity")
    )


def _invited(invited_at: object, settings: PlanSettings) -> str | None:
    """The time a web visitor chose, as it will be used: None without a web invitation."""
    if not isinstance(invited_at, str):
        return None
    return times.describe_time(fit(time.fromisoformat(invited_at), settings))


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


def hours(settings: PlanSettings) -> tuple[time, time]:
    return settings.quiet_start, settings.quiet_end


def fit(chosen: time, settings: PlanSettings) -> time:
    return times.nearest_allowed(chosen, settings.quiet_start, settings.quiet_end)[0]


def moved(chosen: time, settings: PlanSettings) -> str | None:
    return times.nearest_allowed(chosen, settings.quiet_start, settings.quiet_end)[1]


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


def describe(plan: Plan) -> dict[str, Any]:
    return {
        "time": times.describe_time(plan.at), "zone_label": times.describe_zone(plan.zone),
        "days_text": times.describe_days(plan.weekdays), "days": plan.days,
        "check_in_day": DAY_NAMES[WEEKDAYS.index(plan.check_in_weekday)],
        "paused": plan.status == PAUSED, "held": plan.hold is not None,
        "ended": plan.status == ENDED, "activity": plan.psfs_activity,
    }  # fmt: skip
