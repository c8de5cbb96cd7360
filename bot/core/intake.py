"""The intake questionnaire: greet, take an answer (confirming a doubtful one), finish; pure."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.core.answers import parse_yes_no
from bot.core.escalation import raise_alert
from bot.core.flow import END, Question, with_partial, without_partial
from bot.core.model import (  # fmt: skip
    DECLINED,
    DONE,
    REMINDER_OFFER,
    Conversation,
    Effect,
    Patient,
    Playbook,
    Reply,
    Step,
    TriageFinished,
)
from bot.core.triage import EARLY, Outcome
from bot.core.understanding import Reading
from bot.errors import AnswerError

TEMPLATES = ("confirm_answer",)


def greet(patient: Patient, book: Playbook, now: datetime, lead: tuple[Reply, ...]) -> Step:
    start = book.flow.start
    conv = Conversation(
        step=start, started_at=now, last_at=now, channel=patient.conversation.channel
    )
    replies = (*lead, Reply("greeting"), prompt(book.flow.question(start)))
    return Step(replace(patient, conversation=conv), replies)


def human(patient: Patient, template: str, lead: tuple[Reply, ...], now: datetime) -> Step:
    step = raise_alert(patient, "callback", "asked_for_human", now)
    return Step(step.patient, (*lead, Reply(template), *step.replies), step.effects)


def prompt(q: Question) -> Reply:
    return Reply(q.prompt, {"question": q.id, "options": q.menu()})


def answer(patient: Patient, q: Question, text: str, reading: Reading, book: Playbook,
           now: datetime) -> Step:  # fmt: skip
    """One reply to question `q`: a pending confirmation's Y/N, a doubtful answer, or an answer."""
    pending = patient.conversation.pending
    if pending is not None and pending.get("question") == q.id:
        cleared = _with(patient, pending=None)
        settled = _settle_pending(cleared, q, pending, text, reading, book, now)
        if settled is not None:
            return settled
        # Something else than Y/N: read it as a new answer; the safer reading wins, no second ask.
        return accept(cleared, q, reading.value, book, now) if reading.value is not None else (
            invalid(cleared, q, reading, book, now))  # fmt: skip
    if reading.confirm:
        return _ask_to_confirm(patient, q, reading)
    if reading.value is None and reading.partial:  # one side of two: keep it, ask for the other
        kept = with_partial(patient.conversation.answers, q.id, reading.partial)
        context = q.reprompt_context(reading.error or "", reading.partial)
        return Step(_with(patient, answers=kept), (Reply("reprompt", context),))
    if reading.value is None:
        return invalid(patient, q, reading, book, now)
    return accept(patient, q, reading.value, book, now)


def _settle_pending(patient: Patient, q: Question, pending: Any, text: str, reading: Reading,
                    book: Playbook, now: datetime) -> Step | None:  # fmt: skip
    if reading.concepts:  # something new was said: read it as a new answer
        return None
    try:
        said_yes = parse_yes_no(text)
    except AnswerError:
        return None
    value = pending.get("yes") if said_yes else pending.get("no")
    if value is None:  # "no, that's not it" and nothing else to go on: ask the question again
        return Step(patient, (prompt(q),))
    return accept(patient, q, value, book, now)


def _ask_to_confirm(patient: Patient, q: Question, reading: Reading) -> Step:
    disagree = reading.safer is not None or bool(reading.doubtful)
    yes, no = (
        (reading.safer, reading.answer) if reading.safer is not None else (reading.answer, None)
    )
    if reading.doubtful and reading.safer is None:  # "N": the answer without the doubtful ones
        kept = [o for o in (yes if isinstance(yes, list) else [yes]) if o not in reading.doubtful]
        no = kept if q.kind == "multi" else (kept[0] if kept else None)
    pending = {"question": q.id, "yes": yes, "no": no}
    context = {"question": q.id, "answer": describe(q, yes), "disagree": disagree,
               "unexplained": bool(reading.unexplained)}  # fmt: skip
    return Step(_with(patient, pending=pending), (Reply("confirm_answer", context),))


def describe(q: Question, value: Any) -> str:
    """An answer in words, for a confirmation: option labels, yes/no, the number."""
    if q.kind == "yes_no":
        return "yes" if value else "no"
    if q.kind == "multi":
        labels = [o.label for o in q.options if o.id in (value or [])]
        return "; ".join(labels) if labels else "none of these"
    if q.kind == "single":
        return next((o.label for o in q.options if o.id == value), str(value))
    if q.kind == "ktw" and isinstance(value, dict):
        if value.get("skipped"):
            return "skipped"
        return f"left {value['left']:g} cm, right {value['right']:g} cm"
    return str(value)


def accept(patient: Patient, q: Question, value: Any, book: Playbook, now: datetime) -> Step:
    conv = patient.conversation
    answers = {**without_partial(book.flow.upgrade(conv.answers)), q.id: value}
    patient = _with(patient, answers=answers, invalid=0, pending=None)
    if q.stop_if is not None and value == q.stop_if:
        ended = _with(patient, step=DECLINED)
        return Step(ended, (Reply(q.stop_template or "declined"),))
    early = book.rules.evaluate_early(answers)
    if early is not None:
        return finish(Step(patient), early, book, now)
    nxt = book.flow.next_step(q.id, answers)
    if nxt == END:
        outcome = book.rules.evaluate(answers)
        if outcome is None:  # check-config proves this cannot happen on a valid config
            outcome = Outcome(
                "book_call", "no_rule_matched", ("we need a clinician to look at this",)
            )
        return finish(Step(patient), outcome, book, now)
    return Step(_with(patient, step=nxt), (prompt(book.flow.question(nxt)),))


def invalid(patient: Patient, q: Question, reading: Reading, book: Playbook, now: datetime) -> Step:
    conv = patient.conversation
    count = conv.invalid + 1
    reason = "unsure" if reading.unsure else (reading.error or "not_understood")
    context = {**q.reprompt_context(reason), "unsure": q.unsure}
    if count < book.max_invalid:
        return Step(_with(patient, invalid=count), (Reply("reprompt", context),))
    return human(_with(patient, invalid=0), "too_many_invalid", (), now).then(prompt(q))


def finish(step: Step, outcome: Outcome, book: Playbook, now: datetime) -> Step:
    patient = step.patient
    conv = patient.conversation
    effects: list[Effect] = [
        TriageFinished(
            outcome, without_partial(conv.answers), conv.channel, conv.started_at or now, now
        )
    ]
    after = REMINDER_OFFER if outcome.level == "exercises" else DONE
    if outcome.level in EARLY and patient.plan:
        patient = replace(patient, plan=book.hold_plan(patient.plan))
    patient = _with(patient, step=after, outcome=outcome.level, invalid=0, pending=None)
    context = {"reasons": list(outcome.reasons), "rule": outcome.rule}
    replies = [Reply(f"outcome_{outcome.level}", context)]
    level = book.outcome_alerts.get(outcome.level)
    if level:
        raised = raise_alert(patient, level, outcome.rule, now)
        patient = raised.patient
        replies.extend(raised.replies)
        effects.extend(raised.effects)
    if outcome.level == "exercises":
        web = patient.phone.startswith("web:")
        replies.append(Reply("reminder_offer_web" if web else "reminder_offer"))
    return Step(patient, (*step.replies, *replies), (*step.effects, *effects))


def _with(patient: Patient, **changes: Any) -> Patient:
    return replace(patient, conversation=replace(patient.conversation, **changes))
