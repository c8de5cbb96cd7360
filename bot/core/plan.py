"""The reminder plan: its settings, the stored plan, which day gets which message; pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from bot.core import times
from bot.core.flow import Flow, Option
from bot.core.model import Effect, Patient, Reply, Step
from bot.core.times import WEEKDAYS, local_date

ACTIVE, PAUSED, ENDED = "active", "paused", "ended"
REMINDER, CHECKIN, END = "reminder", "checkin", "end"
ASK_TIME, ASK_ZONE = "time", "zone"
CHECKIN_PAIN, CHECKIN_FLAGS, CHECKIN_KTW = "checkin_pain", "checkin_flags", "checkin_ktw"
PSFS_ACTIVITY, PSFS_BASELINE = "psfs_activity", "psfs_baseline"
PSFS_WEEKLY, PSFS_FINAL = "psfs_weekly", "psfs_final"
# Check-in questions stay open past the next reminder (a late answer still counts); knee-to-wall
# does not, so that SKIP to the next reminder stays a SKIP.
STAYS_OPEN = frozenset({CHECKIN_PAIN, CHECKIN_FLAGS, PSFS_WEEKLY})
COMMANDS = ("done", "skip", "pause", "resume", "time", "zone")
DECLINE_WORDS = frozenset(("skip", "later", "pass", "not now", "no thanks", "no thank you"))
FLAG_OPTIONS = range(6)  # the red_flags list plus 5 = numbness; 0 none
EMERGENCY_FLAGS = frozenset((1, 4))  # chest pain/breathing, severe leg pain: 911
RED_FLAG_RULE = "checkin_red_flag"
PAIN_RULE = "checkin_pain_high"
STALLED_RULE = "plan_stalled"
UNCLEAR_RULE = "checkin_unclear"
MEANINGFUL_PAIN, MEANINGFUL_KTW_CM = 2, 2.0  # Farrar 2001; knee-to-wall MDC about 2 cm
TEMPLATES = (
    "reminder", "reminder_offer", "plan_enrolled", "plan_declined", "plan_offer_reprompt",
    "plan_ask_time", "plan_ask_zone", "plan_time_set", "plan_zone_set", "plan_logged",
    "plan_paused", "plan_resumed", "plan_resume_held", "plan_over", "plan_help", "plan_reprompt",
    "plan_no_change", "plan_checkin", "plan_checkin_flags", "plan_checkin_ktw",
    "plan_checkin_thanks", "plan_checkin_emergency", "plan_checkin_urgent",
    "plan_checkin_unclear", "plan_offer_call", "plan_end", "no_plan", "plan_checkin_pain_high",
    "plan_nudge", "plan_psfs_activity", "plan_psfs_score", "plan_psfs_noted", "plan_psfs_final",
    "plan_program", "plan_ack", "plan_question", "plan_sore", "plan_paused_note", "plan_held",
    "web_reminder_ask_time", "plan_care",
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
    questionnaire_expiry: timedelta = timedelta(hours=24)  # a silent questionnaire stops holding
    pain_alert_at: int = 7  # check-in run pain at or above this: ease off + priority_call
    pain_rise_alert: int = 2  # ... or this much above the intake's run pain
    stalled_skips: int = 3  # SKIPs in a row that count as stalled
    stalled_silent_days: int = 5  # days without any reply that count as stalled
    late_checkin_days: int = 2  # a check-in answer this many days late still counts
    psfs_real_change: int = 3  # one activity: beyond measurement error (Stratford 1995)
    psfs_mcid: int = 2  # minimal clinically important difference (Horn 2012)
    # Word lists for free text on a plan (keywords.yaml plan_talk): care, program, question,
    # sore, better, thanks.
    talk: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # The check-in's red-flag menu with the questionnaire's option words (checkin_flag_options):
    # "my calf is swollen" is read as 2, like at intake. Empty: numbers only.
    flag_options: tuple[Option, ...] = ()


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
    # (check-in's ISO local date, run pain 0-10, None when they did not run that week)
    checkins: tuple[tuple[str, int | None], ...] = ()
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
    checkin_date: str | None = None  # the check-in (ISO local date) the open questions answer
    psfs_activity: str | None = None  # PSFS: the activity the knee limits, in their words
    psfs: tuple[tuple[str, str, int], ...] = ()  # (baseline|weekly|final, ISO date, 0-10)
    stalled_at: str | None = None  # a silent-days nudge (ISO instant), until they write again

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
            "checkin_date": self.checkin_date, "psfs_activity": self.psfs_activity,
            "psfs": [{"kind": k, "date": d, "score": v} for k, d, v in self.psfs],
            "stalled_at": self.stalled_at,
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        sent = data.get("last_sent_local_date")
        return cls(
            zone=data["zone"], at=time.fromisoformat(data["time"]),
            start=date.fromisoformat(data["start"]), days=int(data["days"]),
            weekdays=tuple(data["weekdays"]), check_in_weekday=data["check_in_weekday"],
            status=data.get("status", ACTIVE), log=dict(data.get("log") or {}),
            checkins=tuple((c["date"], _int_or_none(c["pain"])) for c in data.get("checkins") or ()),
            baseline_pain=data.get("baseline_pain"), baseline_ktw=data.get("baseline_ktw"),
            ktw=data.get("ktw"), awaiting=data.get("awaiting"),
            pending_pain=data.get("pending_pain"), invalid=int(data.get("invalid", 0)),
            last_sent=None if sent is None else date.fromisoformat(sent),
            last_kind=data.get("last_sent_kind"), hold=data.get("hold"),
            alerted=tuple(data.get("alerted") or ()), checkin_date=data.get("checkin_date"),
            psfs_activity=data.get("psfs_activity"),
            psfs=tuple((p["kind"], p["date"], int(p["score"])) for p in data.get("psfs") or ()),
            stalled_at=data.get("stalled_at"),
        )  # fmt: skip


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


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


def exercise_days(plan: Plan) -> list[date]:
    """The plan's exercise days: the days a reminder goes out. The reminder's "day N of M" and
    the end summary's "N of M exercise days" both count these."""
    return [d for d, kind in due_local_dates(plan) if kind == REMINDER]


def done_count(plan: Plan) -> int:
    """Exercise days logged DONE: never more than the plan's exercise days."""
    return sum(1 for d in exercise_days(plan) if plan.log.get(d.isoformat()) == "done")


def checkin_flag_options(flow: Flow) -> tuple[Option, ...]:
    """The weekly check-in's red flags: the questionnaire's red_flags menu (1-4, 0 none) and,
    as 5, new numbness, tingling or weakness (systemic option 1), with their words."""
    menu = list(flow.questions["red_flags"].options) if "red_flags" in flow.questions else []
    systemic = flow.questions.get("systemic")
    numb = [o for o in systemic.options if o.number == 1] if systemic is not None else []
    return (*menu, *(replace(o, number=5) for o in numb))


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


def save(patient: Patient, plan: Plan, *replies: Reply, effects: tuple[Effect, ...] = ()) -> Step:
    return Step(replace(patient, plan=plan.to_json()), replies, effects)
