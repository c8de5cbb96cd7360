"""advance(patient, inbound, playbook, now) -> Step: one message in, replies and effects out.

The routing is one ordered table of (guard, handler), in python-telegram-bot's words: the
fallbacks that win everywhere (opt-out, the emergency net, HELP, staff), then the states (plan,
questionnaire), then the entry point (greeting). The first route whose guard holds answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from bot.core import intake
from bot.core.answers import clean, keyword_of
from bot.core.escalation import callback_reply, raise_alert, web_offer
from bot.core.flow import Question, partial_for, without_partial
from bot.core.model import (
    DONE,
    REMINDER_OFFER,
    Conversation,
    Inbound,
    OptedOut,
    Patient,
    Playbook,
    Reply,
    Step,
)
from bot.core.triage import Outcome
from bot.core.understanding import Reading, red_flag_outcome, understand

TEMPLATES = (
    "greeting", "reprompt", "help", "opted_out", "opted_in", "media_only", "empty", "expired",
    "restarting", "callback_requested", "too_many_invalid", "after_done", "no_plan",
    "reminder_offer", "ask_callback_number", "callback_declined", "callback_number_invalid",
    "callback_number_thanks", "reminder_offer_web", "web_reminder_offer_reprompt",
    "web_reminders_texted", "opt_out_confirm", *intake.TEMPLATES,
)  # fmt: skip


@dataclass(frozen=True)
class Turn:
    """One inbound message, read once, as every route sees it."""

    before: Patient  # as stored
    patient: Patient  # after the conversation expiry and this message's time and channel
    text: str
    word: str | None  # the single word of a one-word message
    reading: Reading
    book: Playbook
    now: datetime
    lead: tuple[Reply, ...] = ()  # "that conversation expired" goes first when it did

    @property
    def question(self) -> Question | None:
        conv = self.patient.conversation
        return self.book.flow.questions.get(conv.step or "") if conv.in_questionnaire else None


@dataclass(frozen=True)
class Route:
    name: str
    guard: Callable[[Turn], bool]
    handler: Callable[[Turn], Step]


def advance(patient: Patient, inbound: Inbound, book: Playbook, now: datetime) -> Step:
    """Apply one inbound message to a patient; pure."""
    text = clean(inbound.text)
    if not text:
        if patient.opted_out:
            return Step(patient)
        return Step(patient, (Reply("media_only" if inbound.media_count else "empty"),))
    conv, expired = _current(patient, book, now)
    current = replace(patient, conversation=replace(conv, last_at=now, channel=inbound.channel))
    question = book.flow.questions.get(conv.step or "") if conv.in_questionnaire else None
    part = partial_for(conv.answers, question.id) if question else None
    lexicon = book.lexicons.get(book.lang) or book.lexicons.get("en")
    reading = understand(text, question, lexicon, book.reader, keywords=book.keywords.all,
                         lang=book.lang, today=now.date(), partial=part)  # fmt: skip
    lead = (Reply("expired"),) if expired else ()
    word = book.keywords.spelled(keyword_of(text))  # "stpo" is STOP
    turn = Turn(patient, current, text, word, reading, book, now, lead)
    return next(route.handler(turn) for route in ROUTES if route.guard(turn))


# --- guards and handlers, in the order of the table -----------------------------------------


def _opted_out(turn: Turn) -> Step:
    kw, patient = turn.book.keywords, turn.before
    if turn.word in kw.start or turn.word in kw.start_when_opted_out:
        # A plan stopped by an opt-out (STOP here, or the carrier's 21610) does not resume.
        return Step(replace(patient, opted_out=False, plan=None), (Reply("opted_in"),))
    if turn.reading.flags:  # nothing goes back to an opted-out number, but staff must know
        outcome, _ = _red_flag_outcome(turn)
        raised = raise_alert(patient, outcome.level, outcome.rule, turn.now)
        return Step(raised.patient, (), raised.effects)
    return Step(patient)


def _wants_out(turn: Turn) -> bool:
    return turn.word in turn.book.keywords.stop or turn.reading.opt_out


def _opt_out(turn: Turn) -> Step:
    stopped = replace(turn.before, opted_out=True, conversation=Conversation(), plan=None)
    step = Step(stopped, (Reply("opted_out"),), (OptedOut(),))
    if turn.reading.flags:  # "stop texting me, my chest hurts": staff still hear of it
        outcome, _ = _red_flag_outcome(turn)
        raised = raise_alert(turn.before, outcome.level, outcome.rule, turn.now)
        step = step.then(effects=raised.effects)
    return step


def _maybe_out(turn: Turn) -> bool:
    r = turn.reading
    return r.opt_out_maybe and not r.flags and r.answer is None and not r.callback


def _red_flag(turn: Turn) -> bool:
    return bool(turn.reading.flags)


def _emergency(turn: Turn) -> Step:
    """An affirmed red flag anywhere acts as if it were answered: the outcome, at once."""
    outcome, answers = _red_flag_outcome(turn)
    patient = turn.patient
    conv = replace(patient.conversation, answers=answers, pending=None)
    return intake.finish(Step(replace(patient, conversation=conv), turn.lead), outcome,
                         turn.book, turn.now)  # fmt: skip


def _red_flag_outcome(turn: Turn) -> tuple[Outcome, dict[str, Any]]:
    book, conv = turn.book, turn.patient.conversation
    answers = without_partial(book.flow.upgrade(conv.answers)) if conv.in_questionnaire else {}
    q, given = turn.question, turn.reading.sure
    if q is not None and given is not None:  # "1. also my calf is swollen": the typed 1 counts too
        answers[q.id] = given
    return red_flag_outcome(book.flow, book.rules, answers, turn.reading.concepts)


def _help(turn: Turn) -> Step:
    conv, book = turn.before.conversation, turn.book
    fresh = conv.last_at is not None and turn.now - conv.last_at <= book.expiry
    asked = book.flow.questions.get(conv.step or "")
    if conv.in_questionnaire and fresh and asked is not None:
        return Step(turn.before, (Reply("help"), intake.prompt(asked)))
    return Step(turn.before, (Reply("help"),))


def _wants_staff(turn: Turn) -> bool:
    """A call asked for in any words, or the number a web visitor was asked for."""
    if turn.word in turn.book.keywords.human or turn.reading.callback:
        return True
    return bool(turn.patient.conversation.held) and _number_given(turn) is not None


def _number_given(turn: Turn) -> Step | None:
    return callback_reply(turn.patient, turn.text, turn.word, turn.book)


def _staff(turn: Turn) -> Step:
    step = _number_given(turn) if turn.patient.conversation.held else None
    if step is not None:
        return step.then_before(turn.lead)
    return intake.human(turn.patient, "callback_requested", turn.lead, turn.now)


def _restart(turn: Turn) -> Step:
    return intake.greet(turn.patient, turn.book, turn.now, (*turn.lead, Reply("restarting")))


def _on_plan(turn: Turn) -> bool:
    """The reminder plan's slot: outside a questionnaire, issue 12's plan_replies answer."""
    return not turn.patient.conversation.in_questionnaire and plan_owns(
        turn.patient, turn.word, turn.book
    )


def plan_owns(patient: Patient, word: str | None, book: Playbook) -> bool:
    """Routing guard: a patient with a plan (any status), or offered one, is answered by the plan
    for everything outside a questionnaire; a plan word without a plan gets "no plan"."""
    step = patient.conversation.step
    return patient.plan is not None or step == REMINDER_OFFER or word in book.keywords.plan


def _plan(turn: Turn) -> Step:
    patient, conv = turn.patient, turn.patient.conversation
    if conv.step == REMINDER_OFFER and patient.phone.startswith("web:"):
        return web_offer(patient, turn.text, turn.word, turn.book).then_before(turn.lead)
    return turn.book.plan_replies(patient, turn.word, turn.text, turn.now).then_before(turn.lead)


def _questionnaire(turn: Turn) -> Step:
    q = turn.question
    assert q is not None
    step = intake.answer(turn.patient, q, turn.text, turn.reading, turn.book, turn.now)
    return step.then_before(turn.lead)


def _greet(turn: Turn) -> Step:
    return intake.greet(turn.patient, turn.book, turn.now, turn.lead)


def _after_done(turn: Turn) -> Step:
    outcome = turn.patient.conversation.outcome
    return Step(turn.patient, (*turn.lead, Reply("after_done", {"outcome": outcome})))


ROUTES: tuple[Route, ...] = (
    # fallbacks: they win in every state
    Route("opted_out", lambda t: t.before.opted_out, _opted_out),
    Route("opt_out", _wants_out, _opt_out),
    Route("opt_out_maybe", _maybe_out, lambda t: Step(t.before, (Reply("opt_out_confirm"),))),
    Route("emergency", _red_flag, _emergency),
    Route("help", lambda t: t.word in t.book.keywords.help, _help),
    Route("staff", _wants_staff, _staff),
    Route("restart", lambda t: t.word in t.book.keywords.restart, _restart),
    # states
    Route("plan", _on_plan, _plan),
    Route("questionnaire", lambda t: t.question is not None, _questionnaire),
    # entry point, and what is left
    Route("greeting", lambda t: t.patient.conversation.step is None, _greet),
    Route("after_done", lambda t: True, _after_done),
)


def _current(patient: Patient, book: Playbook, now: datetime) -> tuple[Conversation, bool]:
    """The conversation, or a fresh one when it went silent for longer than the expiry. The
    expiry ends a silent questionnaire only: a patient with a plan stays on the plan."""
    conv = patient.conversation
    if conv.step is None or conv.last_at is None or now - conv.last_at <= book.expiry:
        return conv, False
    if patient.plan is not None:
        return (replace(conv, step=DONE, invalid=0) if conv.in_questionnaire else conv), False
    return Conversation(), conv.in_questionnaire
