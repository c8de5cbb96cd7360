"""Progress on a plan: pain and knee-to-wall since intake, PSFS scores, the end summary; pure."""

from __future__ import annotations

from typing import Any

from bot.core import answers
from bot.core.plan import (
    MEANINGFUL_KTW_CM,
    MEANINGFUL_PAIN,
    Plan,
    PlanSettings,
    done_count,
    exercise_days,
)

BASELINE, WEEKLY, FINAL = "baseline", "weekly", "final"


def pain_reference(plan: Plan) -> int | None:
    """Where pain started: pain during runs at triage, else the first check-in."""
    if plan.baseline_pain is not None:
        return plan.baseline_pain
    scores = _run_pains(plan)
    return scores[0] if scores else None


def last_pain(plan: Plan) -> int | None:
    later = _run_pains(plan)
    later = later if plan.baseline_pain is not None else later[1:]
    return later[-1] if later else None


def _run_pains(plan: Plan) -> list[int]:
    """The check-ins' run pain scores, leaving out the weeks without a run."""
    return [p for _, p in plan.checkins if p is not None]


def pain_too_high(plan: Plan, pain: int, settings: PlanSettings) -> str | None:
    """'high' (pain_alert_at or more), 'rising' (pain_rise_alert over intake) or None."""
    if pain >= settings.pain_alert_at:
        return "high"
    ref = plan.baseline_pain
    if ref is not None and pain - ref >= settings.pain_rise_alert:
        return "rising"
    return None


def ktw_change(plan: Plan) -> float | None:
    """cm gained on the more limited side since triage; None when either test was skipped."""
    now = answers.ktw_fields(plan.ktw) if plan.ktw is not None else None
    if now is None or plan.baseline_ktw is None:
        return None
    return round(now["min"] - plan.baseline_ktw, 1)


def psfs_scores(plan: Plan, kind: str) -> list[int]:
    return [score for k, _, score in plan.psfs if k == kind]


def psfs_first_last(plan: Plan) -> tuple[int | None, int | None]:
    """The enrolment score and the latest later one (final, else the last weekly)."""
    first = psfs_scores(plan, BASELINE)
    later = psfs_scores(plan, WEEKLY) + psfs_scores(plan, FINAL)
    return (first[0] if first else None), (later[-1] if later else None)


def psfs_words(change: int | None, settings: PlanSettings, *, short: bool = False) -> str:
    """The change in plain words, with the thresholds from CLINICAL.md (Stratford 1995, Horn
    2012): 3+ is beyond measurement error for one activity, 2 is the smallest that matters."""
    if change is None:
        return ""
    if change >= settings.psfs_real_change:
        verdict, why = (
            "a real improvement",
            " (a change of 3 or more is bigger than day-to-day variation)",
        )
    elif change >= settings.psfs_mcid:
        verdict, why = "a small improvement that may matter", " (3 points would make it certain)"
    elif change <= -settings.psfs_real_change:
        verdict, why = "a real drop", ", so please talk with us"
    elif change <= -settings.psfs_mcid:
        verdict, why = "a little worse", ""
    else:
        verdict, why = "about the same", " (changes under 2 points are within normal variation)"
    return verdict if short else verdict + why


def summary(plan: Plan, settings: PlanSettings) -> dict[str, Any]:
    """End of plan: exercise days done of planned, pain first vs last, knee-to-wall and PSFS."""
    first, last, change = pain_reference(plan), last_pain(plan), ktw_change(plan)
    psfs_first, psfs_last = psfs_first_last(plan)
    psfs_change = None if psfs_first is None or psfs_last is None else psfs_last - psfs_first
    pain_better = first is not None and last is not None and first - last >= MEANINGFUL_PAIN
    better = (
        pain_better
        or (change is not None and change >= MEANINGFUL_KTW_CM)
        or (psfs_change is not None and psfs_change >= settings.psfs_mcid)
    )
    return {"done": done_count(plan), "planned": len(exercise_days(plan)), "pain_first": first,
            "pain_last": last, "ktw_change": change, "better": better, "days": plan.days,
            "activity": plan.psfs_activity, "psfs_first": psfs_first, "psfs_last": psfs_last,
            "psfs_change": psfs_change, "psfs_words": psfs_words(psfs_change, settings),
            "psfs_verdict": psfs_words(psfs_change, settings, short=True)}  # fmt: skip


def psfs_export(plan_json: dict[str, Any] | None) -> dict[str, Any]:
    """The PSFS part of an export record: activity, baseline, weekly scores, final."""
    if not plan_json:
        return {"psfs_activity": None, "psfs_baseline": None, "psfs_weekly": [], "psfs_final": None}
    plan = Plan.from_json(plan_json)
    base, final = psfs_scores(plan, BASELINE), psfs_scores(plan, FINAL)
    weekly = [{"date": d, "score": s} for k, d, s in plan.psfs if k == WEEKLY]
    return {"psfs_activity": plan.psfs_activity, "psfs_baseline": base[0] if base else None,
            "psfs_weekly": weekly, "psfs_final": final[-1] if final else None}  # fmt: skip
