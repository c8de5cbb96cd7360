"""Free text from a patient on a plan: the program again, thanks, a question, soreness; pure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.core import answers
from bot.core.model import Patient, Reply, Step
from bot.core.plan import ENDED, Plan, PlanSettings
from bot.core.times import local_date

NEGATIONS = frozenset(("no", "not", "less", "without", "zero", "never", "nt"))


def kind_of(text: str, settings: PlanSettings) -> str | None:
    """'program', 'question', 'sore', 'better', 'thanks' or None, from the clinic's word lists
    (config/keywords.yaml plan_talk); the first that fits, in that order."""
    words = answers.normalize(text.replace("'", "")).split()
    talk = settings.talk
    if any(w in talk.get("program", ()) for w in words):
        return "program"
    if "?" in text or (words and words[0] in talk.get("question", ())):
        return "question"
    for i, w in enumerate(words):
        if w in talk.get("sore", ()) and not NEGATIONS & set(words[max(0, i - 2) : i]):
            return "sore"
    if any(w in talk.get("better", ()) for w in words):
        return "better"
    if any(w in talk.get("thanks", ()) for w in words) or answers.normalize(text) in ("y", "yes"):
        return "thanks"
    return None


def aside(text: str, plan: Plan, settings: PlanSettings) -> Reply | None:
    """A reply to free text that is clearly something ('what were the exercises?'), else None."""
    kind = kind_of(text, settings)
    if kind is None:
        return None
    if plan.hold is not None and kind != "question":
        return Reply("plan_held")
    if kind == "program":
        return Reply("plan_program", {"again": True})
    if kind == "question":
        return Reply("plan_question", {"held": plan.hold is not None})
    if kind == "sore":
        return Reply("plan_sore")
    return Reply("plan_ack", {"better": kind == "better", "ended": plan.status == ENDED})


def talk(patient: Patient, plan: Plan, text: str, settings: PlanSettings,
         describe: Mapping[str, Any]) -> Step:  # fmt: skip
    """Anything else from a plan patient: a short, helpful reply; never the intake again."""
    said = aside(text, plan, settings)
    if said is not None:
        return Step(patient, (said,))
    if plan.hold is not None:
        return Step(patient, (Reply("plan_held"),))
    if plan.status == ENDED:
        return Step(patient, (Reply("plan_over"),))
    return Step(patient, (Reply("plan_help", {**describe, "back": _back(plan)}),))


def _back(plan: Plan) -> bool:
    """Nudged as stalled, and nothing logged since: the first word from them is a return."""
    if plan.stalled_at is None:
        return False
    nudged = local_date(datetime.fromisoformat(plan.stalled_at), plan.zone).isoformat()
    return not any(day > nudged for day, status in plan.log.items() if status != "no_reply")
