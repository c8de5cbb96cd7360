"""Answers to what the plan asked: weekly check-in, PSFS, knee-to-wall, early or late; pure."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from bot.core import answers, times
from bot.core.choices import parse_choice
from bot.core.model import Alert, Effect, Patient, Reply, Step
from bot.core.plan import (
    ASK_TIME,
    ASK_ZONE,
    CHECKIN,
    CHECKIN_FLAGS,
    CHECKIN_KTW,
    CHECKIN_PAIN,
    DECLINE_WORDS,
    EMERGENCY_FLAGS,
    ENDED,
    FLAG_OPTIONS,
    MEANINGFUL_KTW_CM,
    MEANINGFUL_PAIN,
    PAIN_RULE,
    PAUSED,
    PSFS_ACTIVITY,
    PSFS_BASELINE,
    PSFS_FINAL,
    PSFS_WEEKLY,
    RED_FLAG_RULE,
    UNCLEAR_RULE,
    Plan,
    PlanSettings,
    kind_on,
    save,
)
from bot.core.plan_progress import (
    BASELINE,
    FINAL,
    WEEKLY,
    ktw_change,
    last_pain,
    pain_reference,
    pain_too_high,
    summary,
)
from bot.core.plan_talk import aside, kind_of
from bot.core.times import local_date
from bot.errors import AnswerError

SKIP_WORDS = frozenset(("skip", "skipped", "pass", "n/a", "na", "dont know", "not sure"))
_NO_RUN = re.compile(
    r"\b(?:didnt|did not|havent|have not|hasnt|not|no)\s+(?:been\s+|gone\s+|go\s+)?"
    r"(?:run|runs|running|ran)\b"
)
ACTIVITY_MAX = 60  # characters of the PSFS activity kept (it is repeated in later questions)
NO_ACTIVITY = DECLINE_WORDS | SKIP_WORDS | {
    "no", "none", "nothing", "nothing really", "not really", "idk", "no idea", "unsure",
    "i dont know", "dunno", "i dunno", "im not sure",
}  # fmt: skip
PSFS_SCORES = frozenset({PSFS_BASELINE, PSFS_WEEKLY, PSFS_FINAL})
ACK_TALK = ("thanks", "better")  # plan_talk lists of words that name no activity on their own


def awaited(p: Patient, plan: Plan, text: str, now: datetime, settings: PlanSettings) -> Step:
    """The answer to the open question; an aside (a question, thanks) is answered, then re-asked."""
    today = local_date(now, plan.zone)
    try:
        if plan.awaiting == CHECKIN_PAIN:
            pain = _run_pain(text)
            asked = replace(plan, pending_pain=pain, awaiting=CHECKIN_FLAGS, invalid=0)
            return save(p, asked, Reply("plan_checkin_flags", {"no_run": pain is None}))
        if plan.awaiting == CHECKIN_FLAGS:
            return _flags(p, plan, _read_flags(text, settings), today, settings)
        if plan.awaiting == CHECKIN_KTW:
            return _ktw(p, plan, answers.parse_knee_to_wall(text), settings)
        if plan.awaiting == PSFS_ACTIVITY:
            return _activity(p, plan, text, settings)
        if answers.normalize(text) in SKIP_WORDS:
            return _psfs(p, plan, None, today, settings)
        return _psfs(p, plan, answers.parse_integer(text, 0, 10), today, settings)
    except AnswerError as err:
        if plan.awaiting == CHECKIN_FLAGS and _affirms(text):
            return invalid(p, plan, "which", settings)  # "yes" to the red flags: which ones?
        if plan.awaiting in PSFS_SCORES and kind_of(text, settings) == "question":
            return invalid(p, plan, "explain", settings)  # "what do you mean?": the scale
        if plan.awaiting != PSFS_ACTIVITY and (said := aside(text, plan, settings)) is not None:
            again = Reply("plan_reprompt", {"awaiting": plan.awaiting, "reason": "aside",
                                            "activity": plan.psfs_activity, **window(settings)})  # fmt: skip
            return save(p, plan, said, again)
        return invalid(p, plan, str(err), settings)


def _run_pain(text: str) -> int | None:
    """Run pain 0-10 from a check-in answer ('no pain' is 0); 'didn't run this week' is None
    (no run, no score: nothing is made up for the summary)."""
    try:
        return answers.parse_integer(text, 0, 10)
    except AnswerError:
        if _NO_RUN.search(answers.normalize(text).replace("'", "")):
            return None
        raise


def _read_flags(text: str, settings: PlanSettings) -> list[int]:
    """The check-in's red flags by number, read with the questionnaire's option words."""
    if not settings.flag_options:
        return answers.parse_multi(text, FLAG_OPTIONS)
    picked = parse_choice(text, settings.flag_options, multi=True)
    return sorted({o.number for o in settings.flag_options if o.id in picked})


def _affirms(text: str) -> bool:
    try:
        return answers.parse_yes_no(text)
    except AnswerError:
        return False


def early_checkin(
    p: Patient, plan: Plan, text: str, now: datetime, settings: PlanSettings
) -> Step | None:
    """A run-pain score sent a day early or a little late answers the nearest check-in."""
    day = _nearest_checkin(plan, local_date(now, plan.zone), settings)
    if day is None or not _looks_like_pain(text):
        return None
    try:
        pain = answers.parse_integer(text, 0, 10)
    except AnswerError:
        return None
    asked = replace(plan, pending_pain=pain, awaiting=CHECKIN_FLAGS, checkin_date=day.isoformat())
    return save(p, asked, Reply("plan_checkin_flags", {"early": day > local_date(now, plan.zone)}))


def _nearest_checkin(plan: Plan, today: date, settings: PlanSettings) -> date | None:
    answered = {d for d, _ in plan.checkins}
    ahead = [today + timedelta(days=1), today]
    behind = [today - timedelta(days=n) for n in range(1, settings.late_checkin_days + 1)]
    sent = [d for d in behind if plan.last_sent is not None and plan.last_sent >= d]
    for day in (*ahead, *sent):
        if kind_on(plan, day) == CHECKIN and day.isoformat() not in answered:
            return day
    return None


def _looks_like_pain(text: str) -> bool:
    norm = answers.normalize(text)
    return "pain" in norm or "/10" in text or "out of 10" in norm or norm.isdigit()


def _flags(p: Patient, plan: Plan, flags: list[int], today: date, settings: PlanSettings) -> Step:
    """Re-triage: a red flag alerts staff and pauses the plan; high or rising pain gets advice
    and a priority call, and the plan carries on."""
    pain = plan.pending_pain  # None: no runs this week
    day = plan.checkin_date or today.isoformat()
    plan = replace(plan, checkins=(*plan.checkins, (day, pain)), pending_pain=None, awaiting=None,
                   invalid=0)  # fmt: skip
    if flags:
        level = "emergency" if EMERGENCY_FLAGS & set(flags) else "urgent"
        held = plan if plan.status == ENDED else replace(plan, status=PAUSED, hold="red_flag")
        said = Reply(f"plan_checkin_{level}", {"paused": held.status == PAUSED})
        return save(p, held, said, effects=(Alert(level, RED_FLAG_RULE),))
    replies: list[Reply] = []
    effects: tuple[Effect, ...] = ()
    if pain is not None and (why := pain_too_high(plan, pain, settings)):
        advice = {"pain": pain, "intake": plan.baseline_pain, "why": why}
        replies.append(Reply("plan_checkin_pain_high", advice))
        effects = (Alert("priority_call", PAIN_RULE),)
    step = _next_question(p, plan, date.fromisoformat(day), settings, thank=not replies)
    return Step(step.patient, (*replies, *step.replies), effects)


def _next_question(p: Patient, plan: Plan, day: date, settings: PlanSettings, *,
                   thank: bool = True, psfs_asked: bool = False) -> Step:  # fmt: skip
    """After the red flags: the PSFS score, then (week 3) knee-to-wall, then thanks."""
    if plan.psfs_activity and not psfs_asked and not _has_weekly(plan, day):
        asked = replace(plan, awaiting=PSFS_WEEKLY)
        return save(p, asked, Reply("plan_psfs_score", {"activity": plan.psfs_activity}))
    if plan.ktw is None and (day - plan.start).days >= settings.ktw_from_day:
        return save(p, replace(plan, awaiting=CHECKIN_KTW), Reply("plan_checkin_ktw"))
    return save(p, plan, *([_thanks(plan, settings, None)] if thank else []))


def _has_weekly(plan: Plan, day: date) -> bool:
    return any(k == WEEKLY and d == day.isoformat() for k, d, _ in plan.psfs)


def _thanks(plan: Plan, settings: PlanSettings, ktw: float | None) -> Reply:
    pain = plan.checkins[-1][1] if plan.checkins else None
    ease = pain is not None and pain_too_high(plan, pain, settings) is not None
    return Reply("plan_checkin_thanks", {"pain": pain, "ktw_change": ktw, "ease_off": ease})


def _ktw(patient: Patient, plan: Plan, value: dict[str, Any], settings: PlanSettings) -> Step:
    """Week 3: under 2 cm better and pain not down 2 points: offer a call."""
    plan = replace(plan, ktw=value, awaiting=None, invalid=0)
    change, ref, last = ktw_change(plan), pain_reference(plan), last_pain(plan)
    pain_down = ref is not None and last is not None and ref - last >= MEANINGFUL_PAIN
    if (change is None or change < MEANINGFUL_KTW_CM) and not pain_down:
        # Without a first measurement (a plan started from the web) there is nothing to compare.
        why = "no_baseline" if plan.baseline_ktw is None else "not_improving"
        return save(patient, plan, Reply("plan_offer_call", {"why": why}))
    return save(patient, plan, _thanks(plan, settings, change))


def _activity(patient: Patient, plan: Plan, text: str, settings: PlanSettings) -> Step:
    """PSFS at enrolment: the activity the knee limits, in the patient's words; a question or a
    bare 'ok' is not one."""
    said = " ".join(answers.clean(text).split())
    if answers.normalize(said).replace("'", "") in NO_ACTIVITY:
        return save(
            patient, replace(plan, awaiting=None), Reply("plan_psfs_noted", {"score": None})
        )
    if not any(ch.isalpha() for ch in said):
        raise AnswerError("want_activity")
    if kind_of(said, settings) == "question":
        raise AnswerError("explain")
    acks = {"yes", "y", "yeah", "yep"}.union(*(settings.talk.get(k, ()) for k in ACK_TALK))
    if set(answers.normalize(said).split()) <= acks:  # "ok", "thanks", "great"
        raise AnswerError("want_activity")
    cut = said if len(said) <= ACTIVITY_MAX else said[: ACTIVITY_MAX + 1].rsplit(" ", 1)[0]
    activity = cut.rstrip(" .!,;")
    asked = replace(plan, psfs_activity=activity, awaiting=PSFS_BASELINE, invalid=0)
    return save(patient, asked, Reply("plan_psfs_score", {"activity": activity}))


def _psfs(p: Patient, plan: Plan, score: int | None, today: date, settings: PlanSettings) -> Step:
    """A PSFS score (None: SKIP) at enrolment, at a weekly check-in, or after the plan's end."""
    kind = {PSFS_BASELINE: BASELINE, PSFS_WEEKLY: WEEKLY, PSFS_FINAL: FINAL}[plan.awaiting or ""]
    day = plan.checkin_date if kind == WEEKLY and plan.checkin_date else today.isoformat()
    scores = plan.psfs if score is None else (*plan.psfs, (kind, day, score))
    plan = replace(plan, psfs=scores, awaiting=None, invalid=0)
    if kind == WEEKLY:  # the rest of the check-in goes on, skipped or not
        return _next_question(p, plan, date.fromisoformat(day), settings, psfs_asked=True)
    if kind == FINAL and score is not None:
        return save(p, plan, Reply("plan_psfs_final", summary(plan, settings)))
    if kind == BASELINE and score is None:  # no first score, nothing to compare: not asked again
        plan = replace(plan, psfs_activity=None)
    return save(p, plan, Reply("plan_psfs_noted", {"score": score, "activity": plan.psfs_activity}))


def invalid(patient: Patient, plan: Plan, reason: str, settings: PlanSettings) -> Step:
    """Re-prompt; after max_invalid, give up: no change, or for a check-in a staff callback."""
    if plan.invalid + 1 < settings.max_invalid:
        context = {"awaiting": plan.awaiting, "reason": reason, "activity": plan.psfs_activity,
                   **window(settings)}  # fmt: skip
        return save(
            patient, replace(plan, invalid=plan.invalid + 1), Reply("plan_reprompt", context)
        )
    reset = replace(plan, awaiting=None, invalid=0, pending_pain=None)
    if plan.awaiting in (ASK_TIME, ASK_ZONE, PSFS_ACTIVITY, PSFS_BASELINE, PSFS_FINAL):
        return save(patient, reset, Reply("plan_no_change", {"awaiting": plan.awaiting}))
    unclear = (Alert("callback", UNCLEAR_RULE),)
    return save(patient, reset, Reply("plan_checkin_unclear"), effects=unclear)


def window(settings: PlanSettings) -> dict[str, str]:
    earliest, latest = settings.quiet_start, settings.quiet_end
    return {"earliest": times.describe_time(earliest), "latest": times.describe_time(latest)}
