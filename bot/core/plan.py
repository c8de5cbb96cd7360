"""The reminder plan: enrolment, DONE/SKIP/PAUSE/TIME/ZONE, weekly check-ins, when to send; pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from bot.core import answers, times
from bot.core.model import Effect, Patient, Reply, Step
from bot.core.times import WEEKDAYS, local_date

ACTIVE, PAUSED, ENDED = "active", "paused", "ended"
REMINDER, CHECKIN, END = "reminder", "checkin", "end"
ASK_TIME, ASK_ZONE = "time", "zone"
CHECKIN_PAIN, CHECKIN_FLAGS, CHECKIN_KTW = "checkin_pain", "checkin_flags", "checkin_ktw"
STAYS_OPEN = frozenset({CHECKIN_FLAGS})  # a late red-flag answer must count; SKIP stays SKIP
COMMANDS = ("done", "skip", "pause", "resume", "time", "zone")
DECLINE_WORDS = frozenset(("skip", "later", "pass", "not now", "no thanks", "no thank you"))
FLAG_OPTIONS = range(6)  # the red_flags list plus 5 = numbness; 0 none
EMERGENCY_FLAGS = frozenset((1, 4))  # chest pain/breathing, severe leg pain: 911
RED_FLAG_RULE = "checkin_red_flag"
PAIN_RISING_RULE = "checkin_pain_rising"
UNCLEAR_RULE = "checkin_unclear"
MEANINGFUL_PAIN, MEANINGFUL_KTW_CM = 2, 2.0  # Farrar 2001; knee-to-wall MDC about 2 cm
TEMPLATES = (
    "reminder", "reminder_offer", "plan_enrolled", "plan_declined", "plan_offer_reprompt",
    "plan_ask_time", "plan_ask_zone", "plan_time_set", "plan_zone_set", "plan_logged",
    "plan_paused", "plan_resumed", "plan_resume_held", "plan_over", "plan_help", "plan_reprompt",
    "plan_no_change", "plan_checkin", "plan_checkin_flags", "plan_checkin_ktw",
    "plan_checkin_thanks", "plan_checkin_emergency", "plan_checkin_urgent",
    "plan_checkin_unclear", "plan_offer_call", "plan_end", "no_plan",
)  # fmt: skip


@dataclass(frozen=True)
class PlanSettings:
    """The clinic's plan settings: config/exercises.yaml reminder_plan plus the clinic's zone
    and quiet hours."""

    clinic_zone: str
    quiet_start: time = time(8)
    quiet_end: time = time(21)
    days: int = 21
    weekdays: tuple[str, ...] = WEEKDAYS[:6]
    check_in_weekday: str = "sun"
    time_words: Mapping[str, str] = field(default_factory=dict)
    ktw_from_day: int = 14  # the first check-in from this day (week 3) repeats knee-to-wall
    max_invalid: int = 3
    early_from: time = time(5)  # a chosen time from here up to quiet_start moves to quiet_start
    questionnaire_expiry: timedelta = timedelta(hours=24)  # a silent questionnaire stops holding


@dataclass(frozen=True)
class Plan:
    zone: str
    at: time
    start: date
    days: int
    weekdays: tuple[str, ...]
    check_in_weekday: str
    status: str = ACTIVE
    log: Mapping[str, str] = field(default_factory=dict)  # ISO local date -> done/skipped/no_reply
    checkins: tuple[tuple[str, int], ...] = ()  # (ISO local date, pain during runs 0-10)
    baseline_pain: int | None = None  # pain_run at triage
    baseline_ktw: float | None = None  # the more limited side at triage, cm
    ktw: Mapping[str, Any] | None = None  # the week-3 knee-to-wall answer
    awaiting: str | None = None
    pending_pain: int | None = None
    invalid: int = 0
    last_sent: date | None = None
    last_kind: str | None = None
    hold: str | None = None  # "red_flag": RESUME waits until staff clear it
    alerted: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "v": 1, "status": self.status, "zone": self.zone, "time": times.hhmm(self.at),
            "weekdays": list(self.weekdays), "check_in_weekday": self.check_in_weekday,
            "start": self.start.isoformat(), "days": self.days, "log": dict(self.log),
            "checkins": [{"date": d, "pain": p} for d, p in self.checkins],
            "baseline_pain": self.baseline_pain, "baseline_ktw": self.baseline_ktw,
            "ktw": None if self.ktw is None else dict(self.ktw), "awaiting": self.awaiting,
            "pending_pain": self.pending_pain, "invalid": self.invalid,
            "last_sent_local_date": None if self.last_sent is None else self.last_sent.isoformat(),
            "last_sent_kind": self.last_kind, "hold": self.hold, "alerted": list(self.alerted),
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        sent = data.get("last_sent_local_date")
        return cls(
            zone=data["zone"], at=time.fromisoformat(data["time"]),
            start=date.fromisoformat(data["start"]), days=int(data["days"]),
            weekdays=tuple(data["weekdays"]), check_in_weekday=data["check_in_weekday"],
            status=data.get("status", ACTIVE), log=dict(data.get("log") or {}),
            checkins=tuple((c["date"], int(c["pain"])) for c in data.get("checkins") or ()),
            baseline_pain=data.get("baseline_pain"), baseline_ktw=data.get("baseline_ktw"),
            ktw=data.get("ktw"), awaiting=data.get("awaiting"),
            pending_pain=data.get("pending_pain"), invalid=int(data.get("invalid", 0)),
            last_sent=None if sent is None else date.fromisoformat(sent),
            last_kind=data.get("last_sent_kind"), hold=data.get("hold"),
            alerted=tuple(data.get("alerted") or ()),
        )  # fmt: skip


@dataclass(frozen=True)
class Due:
    """The scheduler's answer: send `step` (kind set), retry later today (wait), or nothing
    (reason). The outbox idempotency key is (patient, local_date, kind)."""

    step: Step
    kind: str | None = None
    local_date: date | None = None
    wait: bool = False
    reason: str = ""


# --- schedule ----------------------------------------------------------------------------------


def kind_on(plan: Plan, day: date) -> str | None:
    """A local date's message: the weekly check-in replaces that day's reminder; from the day
    after the plan's length, the end-of-plan summary."""
    index = (day - plan.start).days
    if index < 0:
        return None
    if index >= plan.days:
        return END
    weekday = WEEKDAYS[day.weekday()]
    if weekday == plan.check_in_weekday and index > 0:
        return CHECKIN
    return REMINDER if weekday in plan.weekdays else None


def send_instant(plan: Plan, day: date, settings: PlanSettings) -> datetime | None:
    """The UTC instant of a local date's message: the plan time, moved up to quiet_start if
    earlier; None (skipped) if later than quiet_end."""
    if plan.at > settings.quiet_end:
        return None
    return times.local_instant(day, max(plan.at, settings.quiet_start), plan.zone)


def next_due(plan: Plan, now: datetime, settings: PlanSettings) -> datetime | None:
    """The UTC instant of the next message at or after `now`; None when paused or ended."""
    if plan.status != ACTIVE:
        return None
    first = max(local_date(now, plan.zone), plan.start)
    for offset in range(plan.days + 8):
        day = first + timedelta(days=offset)
        if (plan.last_sent is not None and day <= plan.last_sent) or kind_on(plan, day) is None:
            continue
        at = send_instant(plan, day, settings)
        if at is not None and at >= now:
            return at
    return None


def due_local_dates(plan: Plan) -> list[tuple[date, str]]:
    """Every local date of the plan that gets a message, with its kind, ending with the summary."""
    days = (plan.start + timedelta(days=i) for i in range(plan.days + 1))
    return [(d, k) for d in days if (k := kind_on(plan, d)) is not None]


def reminder_due(patient: Patient, now: datetime, *, settings: PlanSettings) -> Due:
    """What to send when the scheduler fires for this patient at `now`."""
    if patient.opted_out or not patient.plan:
        return Due(Step(patient), reason="opted_out" if patient.opted_out else "no_plan")
    plan = Plan.from_json(patient.plan)
    today = local_date(now, plan.zone)
    kind = kind_on(plan, today)
    reason = _not_sendable(plan, today, now, settings)
    if reason or kind is None:
        return Due(Step(patient), reason=reason or "not_due")
    conv = patient.conversation
    abandoned = conv.last_at is not None and now - conv.last_at > settings.questionnaire_expiry
    if conv.in_questionnaire and not abandoned:
        return Due(Step(patient), kind, today, wait=True, reason="busy")
    plan = replace(_close_unanswered(plan), last_sent=today, last_kind=kind)
    # An unanswered red-flag question stays open (a late answer must still count, one message a
    # day still holds); other open questions (pain, knee-to-wall, TIME, ZONE) are dropped.
    pending = plan.awaiting if plan.awaiting in STAYS_OPEN else None
    plan = replace(plan, awaiting=pending, pending_pain=plan.pending_pain if pending else None,
                   invalid=0)  # fmt: skip
    if kind == CHECKIN:
        step = save(patient, replace(plan, awaiting=CHECKIN_PAIN), Reply("plan_checkin"))
    elif kind == END:
        step = save(patient, replace(plan, status=ENDED), Reply("plan_end", summary(plan)))
    else:
        context = {"day": (today - plan.start).days + 1, "days": plan.days}
        step = save(patient, plan, Reply("reminder", context))
    return Due(step, kind, today)


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


def summary(plan: Plan) -> dict[str, Any]:
    """End of plan: exercise days done of planned, pain first vs last, knee-to-wall change."""
    planned = [d for d, _ in due_local_dates(plan) if WEEKDAYS[d.weekday()] in plan.weekdays]
    planned = [d for d in planned if (d - plan.start).days < plan.days]
    done = sum(1 for d in planned if plan.log.get(d.isoformat()) == "done")
    first, last, change = pain_reference(plan), last_pain(plan), ktw_change(plan)
    pain_better = first is not None and last is not None and first - last >= MEANINGFUL_PAIN
    better = pain_better or (change is not None and change >= MEANINGFUL_KTW_CM)
    return {"done": done, "planned": len(planned), "pain_first": first, "pain_last": last,
            "ktw_change": change, "better": better, "days": plan.days}  # fmt: skip


def hold_for_red_flag(plan_json: Mapping[str, Any]) -> dict[str, Any]:
    """A red flag anywhere pauses the plan until staff release it: no exercise reminders."""
    plan = Plan.from_json(plan_json)
    return (
        plan.to_json()
        if plan.status == ENDED
        else replace(plan, status=PAUSED, hold="red_flag").to_json()
    )


def release_hold(patient: Patient) -> Patient:
    """Staff reviewed a red-flag check-in: the patient may RESUME again (the plan stays paused)."""
    if not patient.plan:
        return patient
    return replace(patient, plan=replace(Plan.from_json(patient.plan), hold=None).to_json())


# --- pain and knee-to-wall ---------------------------------------------------------------------


def pain_reference(plan: Plan) -> int | None:
    """Where pain started: pain during runs at triage, else the first check-in."""
    if plan.baseline_pain is not None:
        return plan.baseline_pain
    return plan.checkins[0][1] if plan.checkins else None


def _later_pains(plan: Plan) -> list[int]:
    pains = [p for _, p in plan.checkins]
    return pains if plan.baseline_pain is not None else pains[1:]


def last_pain(plan: Plan) -> int | None:
    later = _later_pains(plan)
    return later[-1] if later else None


def pain_rising(plan: Plan) -> bool:
    """Pain up 2 or more from where it started at each of the last two check-ins."""
    ref, later = pain_reference(plan), _later_pains(plan)
    return ref is not None and len(later) >= 2 and min(later[-2:]) - ref >= MEANINGFUL_PAIN


def ktw_change(plan: Plan) -> float | None:
    """cm gained on the more limited side since triage; None when either test was skipped."""
    now = answers.ktw_fields(plan.ktw) if plan.ktw is not None else None
    if now is None or plan.baseline_ktw is None:
        return None
    return round(now["min"] - plan.baseline_ktw, 1)


def save(patient: Patient, plan: Plan, *replies: Reply, effects: tuple[Effect, ...] = ()) -> Step:
    return Step(replace(patient, plan=plan.to_json()), replies, effects)
