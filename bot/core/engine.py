"""advance(patient, inbound, playbook, now) -> Step: one message in, replies and effects out."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bot.core.answers import clean, keyword_of
from bot.core.escalation import callback_reply, raise_alert, web_offer
from bot.core.flow import END, Question, partial_for, with_partial, without_partial
from bot.core.model import (
    DECLINED,
    DONE,
    REMINDER_OFFER,
    Conversation,
    Effect,
    Inbound,
    OptedOut,
    Patient,
    Playbook,
    Reply,
    Step,
    TriageFinished,
)
from bot.core.triage import EARLY, Outcome
from bot.errors import AnswerError, PartialAnswer

FREE_TEXT_RULE = "emergency_free_text"
TEMPLATES = (
    "greeting", "reprompt", "help", "opted_out", "opted_in", "media_only", "empty", "expired",
    "restarting", "callback_requested", "too_many_invalid", "after_done", "no_plan",
    "reminder_offer", "ask_callback_number", "callback_declined", "callback_number_invalid",
    "callback_number_thanks", "reminder_offer_web", "web_reminder_offer_reprompt",
    "web_reminders_texted",
)  # fmt: skip


def advance(patient: Patient, inbound: Inbound, book: Playbook, now: datetime) -> Step:
    """Apply one inbound message to a patient; pure."""
    text = clean(inbound.text)
    if not text:
        if patient.opted_out:
            return Step(patient)
        return Step(patient, (Reply("media_only" if inbound.media_count else "empty"),))
    word = book.keywords.spelled(keyword_of(text))
    kw = book.keywords
    if patient.opted_out:
        if word in kw.start or word in kw.start_when_opted_out:
            # A plan stopped by an opt-out (STOP here, or the carrier's 21610) does not resume.
            return Step(replace(patient, opted_out=False, plan=None), (Reply("opted_in"),))
        if kw.emergency_in(text):  # nothing goes back to an opted-out number, but staff must know
            raised = raise_alert(patient, "emergency", FREE_TEXT_RULE, now)
            return Step(raised.patient, (), raised.effects)
        return Step(patient)
    if word in kw.stop:
        stopped = replace(patient, opted_out=True, conversation=Conversation(), plan=None)
        return Step(stopped, (Reply("opted_out"),), (OptedOut(),))
    if word in kw.help:
        conv = patient.conversation
        fresh = conv.last_at is not None and now - conv.last_at <= book.expiry
        asked = book.flow.questions.get(conv.step or "")
        if conv.in_questionnaire and fresh and asked is not None:
            return Step(patient, (Reply("help"), _prompt(asked)))
        return Step(patient, (Reply("help"),))
    conv, expired = _current(patient, book, now)
    patient = replace(patient, conversation=replace(conv, last_at=now, channel=inbound.channel))
    lead = (Reply("expired"),) if expired else ()
    if patient.conversation.held and (step := callback_reply(patient, text, word, book)):
        return step.then_before(lead)
    if word in kw.restart:
        return _greet(patient, book, now, (*lead, Reply("restarting")))
    if word in kw.human:
        return _human(patient, "callback_requested", lead, now)
    if kw.emergency_in(text):
        outcome = Outcome("emergency", FREE_TEXT_RULE, ("you described a possible emergency",))
        return _finish(Step(patient, lead), outcome, book, now)
    conv = patient.conversation
    if conv.in_questionnaire:
        return _answer(patient, book.flow.question(conv.step or ""), text, book, now)
    if conv.step == REMINDER_OFFER and patient.phone.startswith("web:"):
        return web_offer(patient, text, word, book).then_before(lead)
    if plan_owns(patient, word, book):
        return book.plan_replies(patient, word, text, now).then_before(lead)
    if conv.step is None:
        return _greet(patient, book, now, lead)
    return Step(patient, (*lead, Reply("after_done", {"outcome": conv.outcome})))


def plan_owns(patient: Patient, word: str | None, book: Playbook) -> bool:
    """Routing guard: a patient with a plan (any status), or offered one, is answered by the plan
    for everything outside a questionnaire; a plan word without a plan gets "no plan"."""
    step = patient.conversation.step
    return patient.plan is not None or step == REMINDER_OFFER or word in book.keywords.plan


def _current(patient: Patient, book: Playbook, now: datetime) -> tuple[Conversation, bool]:
    """The conversation, or a fresh one when it went silent for longer than the expiry. The
    expiry ends a silent questionnaire only: a patient with a plan stays on the plan."""
    conv = patient.conversation
    if conv.step is None or conv.last_at is None or now - conv.last_at <= book.expiry:
        return conv, False
    if patient.plan is not None:
        return (replace(conv, step=DONE, invalid=0) if conv.in_questionnaire else conv), False
    return Conversation(), conv.in_questionnaire


def _greet(patient: Patient, book: Playbook, now: datetime, lead: tuple[Reply, ...]) -> Step:
    start = book.flow.start
    conv = Conversation(
        step=start, started_at=now, last_at=now, channel=patient.conversation.channel
    )
    replies = (*lead, Reply("greeting"), _prompt(book.flow.question(start)))
    return Step(replace(patient, conversation=conv), replies)


def _human(patient: Patient, template: str, lead: tuple[Reply, ...], now: datetime) -> Step:
    step = raise_alert(patient, "callback", "asked_for_human", now)
    return Step(step.patient, (*lead, Reply(template), *step.replies), step.effects)


def _answer(patient: Patient, q: Question, text: str, book: Playbook, now: datetime) -> Step:
    conv = patient.conversation
    try:
        value = q.parse(text[:500], today=now.date(), partial=partial_for(conv.answers, q.id))
    except PartialAnswer as err:  # one side of two: keep it and ask for the other
        kept = with_partial(conv.answers, q.id, err.partial)
        waiting = replace(patient, conversation=replace(conv, answers=kept))
        return Step(waiting, (Reply("reprompt", q.reprompt_context(str(err), err.partial)),))
    except AnswerError as err:
        return _invalid(patient, q, str(err), book, now)
    answers = {**without_partial(book.flow.upgrade(conv.answers)), q.id: value}
    patient = replace(patient, conversation=replace(conv, answers=answers, invalid=0))
    if q.stop_if is not None and value == q.stop_if:
        ended = replace(patient.conversation, step=DECLINED)
        return Step(replace(patient, conversation=ended), (Reply(q.stop_template or "declined"),))
    early = book.rules.evaluate_early(answers)
    if early is not None:
        return _finish(Step(patient), early, book, now)
    nxt = book.flow.next_step(q.id, answers)
    if nxt == END:
        outcome = book.rules.evaluate(answers)
        if outcome is None:  # check-config proves this cannot happen on a valid config
            outcome = Outcome(
                "book_call", "no_rule_matched", ("we need a clinician to look at this",)
            )
        return _finish(Step(patient), outcome, book, now)
    moved = replace(patient.conversation, step=nxt)
    return Step(replace(patient, conversation=moved), (_prompt(book.flow.question(nxt)),))


def _prompt(q: Question) -> Reply:
    return Reply(q.prompt, {"question": q.id, "options": q.menu()})


def _invalid(patient: Patient, q: Question, reason: str, book: Playbook, now: datetime) -> Step:
    conv = patient.conversation
    count = conv.invalid + 1
    context = q.reprompt_context(reason)
    if count < book.max_invalid:
        moved = replace(patient, conversation=replace(conv, invalid=count))
        return Step(moved, (Reply("reprompt", context),))
    reset = replace(patient, conversation=replace(conv, invalid=0))
    return _human(reset, "too_many_invalid", (), now).then(_prompt(q))


def _finish(step: Step, outcome: Outcome, book: Playbook, now: datetime) -> Step:
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
    patient = replace(
        patient, conversation=replace(conv, step=after, outcome=outcome.level, invalid=0)
    )
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
