"""Free text from a patient on a plan: the program again, thanks, a question, soreness; pure."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.core import answers
from bot.core.model import Patient, Reply, Step
from bot.core.plan import ACTIVE, ENDED, PAUSED, Plan, PlanSettings

# Words that turn a symptom or progress word after them in their clause around ("not better",
# "doesn't hurt"); "can't" is left out: "I can't run because it hurts" is still sore.
NEGATIONS = frozenset(("no", "not", "never", "without", "zero", "less", "nothing", "hardly",
                       "barely", "dont", "doesnt", "didnt", "isnt", "wasnt", "arent", "werent",
                       "havent", "hasnt", "aint", "wont"))  # fmt: skip
_CLAUSE = re.compile(r"[,.;:!?]+|\b(?:but|and|though|although)\b")
_PAIN_SCORE = re.compile(r"\b(10|\d)\s*(?:/|out of)\s*10\b")  # "9/10", "8 out of 10"
ACCEPTABLE_PAIN = 3  # Silbernagel 2007: 0-3 during activity is fine


def kind_of(text: str, settings: PlanSettings) -> str | None:
    """'care', 'done', 'program', 'question', 'sore', 'better', 'thanks' or None, from the
    clinic's lists (config/keywords.yaml plan_talk); the first that fits, in that order ('care'
    and 'done' never for a question, 'done' only when nothing is sore: "I did something to my
    knee" is not a log). A sore or better word
    after a negation in its clause counts as the other ('not better' is sore); a pain score
    over 3 ('9/10') outside a check-in gets the pain guidance."""
    words = answers.normalize(text.replace("'", "").replace("’", "")).split()
    talk = settings.talk
    asking = "?" in text or bool(words and words[0] in talk.get("question", ()))
    if not asking and _said(text, talk.get("care", frozenset())):
        return "care"
    feelings = set(_feelings(text, talk))
    if not asking and "sore" not in feelings and _said(text, talk.get("done", frozenset())):
        return "done"
    if any(w in talk.get("program", ()) for w in words):
        return "program"
    if asking:
        return "question"
    score = _PAIN_SCORE.search(answers.normalize(text))
    if "sore" in feelings or (score and int(score.group(1)) > ACCEPTABLE_PAIN):
        return "sore"
    if "better" in feelings:
        return "better"
    if any(w in talk.get("thanks", ()) for w in words) or answers.normalize(text) in ("y", "yes"):
        return "thanks"
    return None


def _said(text: str, vocab: frozenset[str]) -> bool:
    """A word of `vocab` with no negation before it in its clause ('did my exercises', not
    'nothing urgent'), and not a question to us ('did you get my message')."""
    for words, negations in _clauses(text):
        for i, word in enumerate(words):
            asking = words[i + 1 : i + 2] == ["you"]
            if word in vocab and not asking and not any(n < i for n in negations):
                return True
    return False


def _clauses(text: str) -> list[tuple[list[str], list[int]]]:
    """Each clause's words and where its negations stand."""
    found = []
    for clause in _CLAUSE.split(text.lower().replace("'", "").replace("’", "")):
        words = answers.normalize(clause).split()
        found.append((words, [i for i, w in enumerate(words) if w in NEGATIONS
                              and not _answer_no(words, i)]))  # fmt: skip
    return found


def _feelings(text: str, talk: Mapping[str, frozenset[str]]) -> list[str]:
    """'sore' or 'better' for each symptom or progress word, the other when negated: a progress
    word by a negation anywhere before it in its clause ('not really getting any better'), a
    symptom word only by a close one ('no more pain'), and 'No it hurts' is still sore."""
    found: list[str] = []
    for words, negations in _clauses(text):
        for i, word in enumerate(words):
            if word in talk.get("sore", ()):
                found.append("better" if any(i - 3 <= n < i for n in negations) else "sore")
            elif word in talk.get("better", ()):
                found.append("sore" if any(n < i for n in negations) else "better")
    return found


def _answer_no(words: list[str], i: int) -> bool:
    """'No it hurts', 'no my knee is sore': an answer 'No', not a negation of what follows."""
    return words[i] == "no" and i + 1 < len(words) and words[i + 1] in ("it", "i", "my")


def aside(text: str, plan: Plan | None, settings: PlanSettings) -> Reply | None:
    """A reply to free text that is clearly something ('what were the exercises?'), else None;
    without a plan (the reminder offer) nothing is paused or held."""
    kind = kind_of(text, settings)
    if kind is None or kind == "done":  # logging a day is a command (plan_replies)
        return None
    held = plan is not None and plan.hold is not None
    status = ACTIVE if plan is None else plan.status
    if held and kind != "question":
        return Reply("plan_held")
    if kind == "care":
        return Reply("plan_care", {"paused": plan is None or status != ACTIVE})
    if kind == "program":
        return Reply("plan_program", {"again": True})
    if kind == "question":
        return Reply("plan_question", {"held": held})
    if kind == "sore":
        return Reply("plan_sore")
    return Reply("plan_ack", {"better": kind == "better", "ended": status == ENDED,
                              "paused": status == PAUSED})  # fmt: skip


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
    return Step(patient, (Reply("plan_help", describe),))
