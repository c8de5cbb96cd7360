"""advance(patient, inbound, playbook, now) -> Step: one message in, replies and effects out."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import phonenumbers

from bot.core.answers import clean, keyword_of, normalize
from bot.core.flow import END, Flow, Question
from bot.core.triage import EARLY, Outcome, Rules
from bot.errors import AnswerError

FREE_TEXT_RULE = "emergency_free_text"
DONE, DECLINED, REMINDER_OFFER = "done", "declined", "reminder_offer"
ALERT_REPEAT = timedelta(hours=1)  # the same kind of alert again after this is a new alert
TEMPLATES = (
    "greeting", "reprompt", "help", "opted_out", "opted_in", "media_only", "empty", "expired",
    "restarting", "callback_requested", "too_many_invalid", "after_done", "no_plan",
    "reminder_offer", "staff_alert", "staff_claimed", "patient_callback_coming",
    "staff_ack_claimed", "staff_ack_already", "staff_ack_unknown", "staff_open", "staff_help",
    "ask_callback_number", "callback_declined", "callback_number_invalid", "callback_number_thanks",
    "reminder_offer_web", "web_reminder_offer_reprompt", "web_reminders_texted", "sms_reminder_invite",
    "staff_cleared", "store_down",
)  # fmt: skip


@dataclass(frozen=True)
class Keywords:
    stop: frozenset[str]
    start: frozenset[str]
    start_when_opted_out: frozenset[str]
    help: frozenset[str]
    restart: frozenset[str]
    human: frozenset[str]
    plan: frozenset[str]  # DONE, SKIP, PAUSE, RESUME, TIME, ZONE: for the reminder plan
    emergency_phrases: tuple[str, ...]

    def emergency_in(self, text: str) -> bool:
        said = f" {normalize(text).replace(chr(39), '').replace('-', ' ')} "
        return any(f" {p} " in said for p in self.emergency_phrases)


@dataclass(frozen=True)
class Playbook:
    """Everything the engine needs that the clinic configures."""

    flow: Flow
    rules: Rules
    keywords: Keywords
    outcome_alerts: Mapping[str, str | None]
    expiry: timedelta = timedelta(hours=24)
    max_invalid: int = 3
    default_region: str = "US"  # how to read a typed national number like (949) 555-0123
    hold_plan: Callable[[Mapping[str, Any]], Mapping[str, Any]] = (
        dict  # pauses a plan on a red flag
    )
    plan_replies: PlanReplies = field(default=lambda p, w, t, n: no_plan(p, w, t, n))


@dataclass(frozen=True)
class Inbound:
    text: str
    channel: str = "sms"
    media_count: int = 0


@dataclass(frozen=True)
class Reply:
    template: str
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Alert:
    """Effect: tell staff. Carries the rule, never symptoms or answers."""

    level: str
    rule: str
    callback: str | None = None  # the number to call when it is not the sender's (web chat)


@dataclass(frozen=True)
class TriageFinished:
    """Effect: one finished triage, for export."""

    outcome: Outcome
    answers: Mapping[str, Any]
    channel: str
    started_at: datetime
    finished_at: datetime


@dataclass(frozen=True)
class OptedOut:
    """Effect: cancel everything pending for this number."""


@dataclass(frozen=True)
class InvitePlan:
    """Effect: a web visitor asked for SMS reminders at this number; the number must opt in."""

    number: str
    answers: Mapping[str, Any]


Effect = Alert | TriageFinished | OptedOut | InvitePlan


@dataclass(frozen=True)
class Conversation:
    step: str | None = None
    answers: Mapping[str, Any] = field(default_factory=dict)
    invalid: int = 0
    started_at: datetime | None = None
    last_at: datetime | None = None
    outcome: str | None = None
    alerted: tuple[str, ...] = ()
    channel: str = "sms"
    callback: str | None = None  # a web visitor's number, once they typed one
    held: tuple[tuple[str, str], ...] = ()  # (level, rule) alerts waiting for that number

    @property
    def in_questionnaire(self) -> bool:
        return self.step not in (None, DONE, DECLINED, REMINDER_OFFER)


@dataclass(frozen=True)
class Patient:
    phone: str
    opted_out: bool = False
    conversation: Conversation = field(default_factory=Conversation)
    plan: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Step:
    patient: Patient
    replies: tuple[Reply, ...] = ()
    effects: tuple[Effect, ...] = ()

    def then(self, *replies: Reply, effects: tuple[Effect, ...] = ()) -> Step:
        return Step(self.patient, (*self.replies, *replies), (*self.effects, *effects))

    def then_before(self, lead: tuple[Reply, ...]) -> Step:
        return Step(self.patient, (*lead, *self.replies), self.effects)


PlanReplies = Callable[[Patient, str | None, str, datetime], Step]


def no_plan(patient: Patient, word: str | None, text: str, now: datetime) -> Step:
    """Until a reminder plan exists, plan words just say there is none."""
    return Step(patient, (Reply("no_plan"),))


def advance(patient: Patient, inbound: Inbound, book: Playbook, now: datetime) -> Step:
    """Apply one inbound message to a patient; pure."""
    text = clean(inbound.text)
    if not text:
        if patient.opted_out:
            return Step(patient)
        return Step(patient, (Reply("media_only" if inbound.media_count else "empty"),))
    word = keyword_of(text)
    kw = book.keywords
    if patient.opted_out:
        if word in kw.start or word in kw.start_when_opted_out:
            # A plan stopped by an opt-out (STOP here, or the carrier's 21610) does not resume.
            return Step(replace(patient, opted_out=False, plan=None), (Reply("opted_in"),))
        if kw.emergency_in(text):  # nothing goes back to an opted-out number, but staff must know
            raised = _raise(patient, "emergency", FREE_TEXT_RULE, now)
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
    conv, expired = _current(patient.conversation, book, now)
    patient = replace(patient, conversation=replace(conv, last_at=now, channel=inbound.channel))
    lead = (Reply("expired"),) if expired else ()
    if patient.conversation.held and (step := _callback_reply(patient, text, word, book)):
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
        return _web_offer(patient, text, word, book).then_before(lead)
    first = (normalize(text).split() or [""])[0]
    plan_word = word in kw.plan or (patient.plan is not None and first in kw.plan)
    if conv.step == REMINDER_OFFER or plan_word or (patient.plan or {}).get("awaiting"):
        return book.plan_replies(patient, word, text, now).then_before(lead)
    if conv.step is None:
        return _greet(patient, book, now, lead)
    return Step(patient, (*lead, Reply("after_done", {"outcome": conv.outcome})))


def _current(conv: Conversation, book: Playbook, now: datetime) -> tuple[Conversation, bool]:
    """The conversation, or a fresh one when it went silent for longer than the expiry."""
    if conv.step is None or conv.last_at is None or now - conv.last_at <= book.expiry:
        return conv, False
    return Conversation(), conv.in_questionnaire


def _greet(patient: Patient, book: Playbook, now: datetime, lead: tuple[Reply, ...]) -> Step:
    start = book.flow.start
    conv = Conversation(
        step=start, started_at=now, last_at=now, channel=patient.conversation.channel
    )
    replies = (*lead, Reply("greeting"), _prompt(book.flow.question(start)))
    return Step(replace(patient, conversation=conv), replies)


def _human(patient: Patient, template: str, lead: tuple[Reply, ...], now: datetime) -> Step:
    step = _raise(patient, "callback", "asked_for_human", now)
    return Step(step.patient, (*lead, Reply(template), *step.replies), step.effects)


def _raise(patient: Patient, level: str, rule: str, now: datetime) -> Step:
    """Alert staff, once per level within ALERT_REPEAT; a web visitor is asked for a number.

    Emergency and urgent alerts from the web go out at once without a number (staff see it in
    `bot alerts`); the number, once typed, goes out in a second alert of the same level.
    """
    conv = patient.conversation
    if any(_recent(entry, level, now) for entry in conv.alerted):
        return Step(patient)
    conv = replace(conv, alerted=(*_fresh(conv.alerted, now), f"{level}@{now.isoformat()}"))
    if not patient.phone.startswith("web:") or conv.callback:
        return Step(replace(patient, conversation=conv), (), (Alert(level, rule, conv.callback),))
    now_alert = (Alert(level, rule),) if level in ("emergency", "urgent") else ()
    conv = replace(conv, held=(*conv.held, (level, rule)))
    return Step(replace(patient, conversation=conv), (Reply("ask_callback_number"),), now_alert)


def _recent(entry: str, level: str, now: datetime) -> bool:
    name, _, when = entry.partition("@")
    return name == level and bool(when) and now - datetime.fromisoformat(when) < ALERT_REPEAT


def _fresh(alerted: tuple[str, ...], now: datetime) -> tuple[str, ...]:
    """Only the entries still inside the repeat window are worth keeping."""
    return tuple(e for e in alerted if _recent(e, e.partition("@")[0], now))


def _callback_reply(patient: Patient, text: str, word: str | None, book: Playbook) -> Step | None:
    """A web visitor's answer to 'which number can we call?', or None when it is something else."""
    conv = patient.conversation
    if word in ("no", "nope", "n"):
        declined = replace(conv, held=())
        return Step(replace(patient, conversation=declined), (Reply("callback_declined"),))
    number = callback_number(text, book.default_region)
    if number is None:
        looks_like_number = sum(ch.isdigit() for ch in text) >= 7
        return Step(patient, (Reply("callback_number_invalid"),)) if looks_like_number else None
    alerts = tuple(Alert(level, rule, number) for level, rule in conv.held)
    done = replace(conv, callback=number, held=())
    return Step(
        replace(patient, conversation=done),
        (Reply("callback_number_thanks", {"number": number}),),
        alerts,
    )


def _web_offer(patient: Patient, text: str, word: str | None, book: Playbook) -> Step:
    """On the web, reminders go by SMS: ask for the number, then that number opts in by text."""
    conv = patient.conversation
    if word in ("no", "nope", "n", "nah"):
        return Step(
            replace(patient, conversation=replace(conv, step=DONE)), (Reply("plan_declined"),)
        )
    number = callback_number(text, book.default_region)
    if (
        number is None
        or phonenumbers.region_code_for_number(phonenumbers.parse(number)) != book.default_region
    ):  # reminders are texted only to numbers in the clinic's country
        return Step(patient, (Reply("web_reminder_offer_reprompt"),))
    done = replace(conv, step=DONE, callback=conv.callback or number)
    # No health answers go to that number's record until its owner opts in by text.
    invite = InvitePlan(number, {})
    return Step(
        replace(patient, conversation=done),
        (Reply("web_reminders_texted", {"number": number}),),
        (invite,),
    )


def callback_number(text: str, region: str) -> str | None:
    """A valid phone number typed by a person, in E.164, or None."""
    try:
        parsed = phonenumbers.parse(text.strip(), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _answer(patient: Patient, q: Question, text: str, book: Playbook, now: datetime) -> Step:
    conv = patient.conversation
    try:
        value = q.parse(text[:500])
    except AnswerError as err:
        return _invalid(patient, q, str(err), book, now)
    answers = {**conv.answers, q.id: value}
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
    return Reply(q.prompt, {"question": q.id})


def _invalid(patient: Patient, q: Question, reason: str, book: Playbook, now: datetime) -> Step:
    conv = patient.conversation
    count = conv.invalid + 1
    context = {"kind": q.kind, "reason": reason, "lo": q.lo, "hi": q.hi, "options": q.options}
    if count < book.max_invalid:
        moved = replace(patient, conversation=replace(conv, invalid=count))
        return Step(moved, (Reply("reprompt", context),))
    reset = replace(patient, conversation=replace(conv, invalid=0))
    return _human(reset, "too_many_invalid", (), now).then(_prompt(q))


def _finish(step: Step, outcome: Outcome, book: Playbook, now: datetime) -> Step:
    patient = step.patient
    conv = patient.conversation
    effects: list[Effect] = [
        TriageFinished(outcome, dict(conv.answers), conv.channel, conv.started_at or now, now)
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
        raised = _raise(patient, level, outcome.rule, now)
        patient = raised.patient
        replies.extend(raised.replies)
        effects.extend(raised.effects)
    if outcome.level == "exercises":
        web = patient.phone.startswith("web:")
        replies.append(Reply("reminder_offer_web" if web else "reminder_offer"))
    return Step(patient, (*step.replies, *replies), (*step.effects, *effects))
