"""When the scheduler fires: the reminder, weekly check-in, stalled nudge or end summary; pure."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from bot.core import times
from bot.core.model import Alert, Patient, Reply, Step
from bot.core.plan import (
    ACTIVE,
    CHECKIN,
    CHECKIN_PAIN,
    END,
    ENDED,
    PSFS_FINAL,
    REMINDER,
    STALLED_RULE,
    STAYS_OPEN,
    Due,
    Plan,
    PlanSettings,
    exercise_days,
    kind_on,
    save,
    send_instant,
)
from bot.core.plan_progress import summary
from bot.core.times import local_date


def reminder_due(patient: Patient, now: datetime, *, settings: PlanSettings) -> Due:
    """What to send when the scheduler fires for this patient at `now`."""
    if patient.opted_out or not patient.plan:
        return Due(Step(patient), reason="opted_out" if patient.opted_out else "no_plan")
    plan = Plan.from_json(patient.plan)
    today = local_date(now, plan.zone)
    kind = kind_on(plan, today)
    reason = _not_sendable(plan, today, now, settings)
    if kind == CHECKIN and any(d == today.isoformat() for d, _ in plan.checkins):
        reason = reason or "answered"  # the patient answered this check-in early
    if reason or kind is None:
        return Due(Step(patient), reason=reason or "not_due")
    conv = patient.conversation
    abandoned = conv.last_at is not None and now - conv.last_at > settings.questionnaire_expiry
    if conv.in_questionnaire and not abandoned:
        return Due(Step(patient), kind, today, wait=True, reason="busy")
    plan = _keep_open(replace(_close_unanswered(plan), last_sent=today, last_kind=kind), today,
                      settings)  # fmt: skip
    return Due(_message(patient, plan, kind, today, now, settings), kind, today)


def _message(patient: Patient, plan: Plan, kind: str, today: date, now: datetime,
             settings: PlanSettings) -> Step:  # fmt: skip
    if kind == CHECKIN:
        asked = replace(plan, awaiting=CHECKIN_PAIN, checkin_date=today.isoformat(), invalid=0)
        return save(patient, asked, Reply("plan_checkin"))
    if kind == END:
        # A check-in still open (a late red-flag answer must count) is not replaced by the
        # last PSFS question.
        ask = plan.psfs_activity if plan.awaiting is None else None
        ended = replace(plan, status=ENDED, awaiting=PSFS_FINAL if ask else plan.awaiting)
        context = {
            **summary(plan, settings),
            "activity": ask,
            "summary_activity": plan.psfs_activity,
        }
        return save(patient, ended, Reply("plan_end", context))
    days = exercise_days(plan)
    context = {"day": days.index(today) + 1 if today in days else len(days), "days": len(days)}
    if stalled_silent(patient, plan, now, settings):
        nudged = replace(plan, stalled_at=now.isoformat())
        nudge = Reply("plan_nudge", {**context, "why": "silent"})
        return save(patient, nudged, nudge, effects=(Alert("lead", STALLED_RULE),))
    return save(patient, plan, Reply("reminder", context))


def _keep_open(plan: Plan, today: date, settings: PlanSettings) -> Plan:
    """A check-in question stays open for a late answer for a day or two; anything else that
    was asked (TIME, ZONE, knee-to-wall, PSFS at enrolment) is dropped with the next message."""
    opened = date.fromisoformat(plan.checkin_date) if plan.checkin_date else None
    late_ok = opened is not None and (today - opened).days <= settings.late_checkin_days
    if plan.awaiting in STAYS_OPEN and late_ok:
        return replace(plan, invalid=0)
    return replace(plan, awaiting=None, pending_pain=None, invalid=0)


def stalled_silent(patient: Patient, plan: Plan, now: datetime, settings: PlanSettings) -> bool:
    """No reply at all for `stalled_silent_days`, and no nudge since they last wrote."""
    heard = patient.conversation.last_at
    since = local_date(heard, plan.zone) if heard is not None else plan.start
    silent = (local_date(now, plan.zone) - max(since, plan.start)).days
    nudged_after = plan.stalled_at is not None and (
        heard is None or datetime.fromisoformat(plan.stalled_at) >= heard
    )
    return silent >= settings.stalled_silent_days and not nudged_after


def _not_sendable(plan: Plan, today: date, now: datetime, settings: PlanSettings) -> str:
    at = send_instant(plan, today, settings)
    if plan.status != ACTIVE:
        return plan.status
    if plan.last_sent is not None and plan.last_sent >= today:
        return "sent"
    # To the minute: a 21:00 reminder fired a few milliseconds late is still a 21:00 reminder.
    late = times.local_time(now, plan.zone).replace(second=0, microsecond=0) > settings.quiet_end
    if at is None or late:
        return "quiet"
    return "not_due" if now < at else ""


def _close_unanswered(plan: Plan) -> Plan:
    """The previous reminder got neither DONE nor SKIP: log it as no_reply."""
    if plan.last_kind != REMINDER or plan.last_sent is None:
        return plan
    day = plan.last_sent.isoformat()
    return plan if day in plan.log else replace(plan, log={**plan.log, day: "no_reply"})
