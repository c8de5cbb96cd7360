"""The values that cross the core's boundary: patient, conversation, inbound, replies, effects."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from bot.core.flow import Flow
from bot.core.lexicon import Lexicon
from bot.core.triage import Outcome, Rules
from bot.core.typos import typo_of
from bot.core.understanding import NoReader, Reader

DONE, DECLINED, REMINDER_OFFER = "done", "declined", "reminder_offer"


@dataclass(frozen=True)
class Keywords:
    stop: frozenset[str]
    start: frozenset[str]
    start_when_opted_out: frozenset[str]
    help: frozenset[str]
    restart: frozenset[str]
    human: frozenset[str]
    plan: frozenset[str]  # DONE, SKIP, PAUSE, RESUME, TIME, ZONE: for the reminder plan

    @property
    def all(self) -> frozenset[str]:
        return self.stop | self.start | self.help | self.restart | self.human | self.plan

    def spelled(self, word: str | None) -> str | None:
        """The keyword a one-word message means, typos included ('stpo' is STOP), else itself."""
        return None if word is None else typo_of(word, self.all) or word


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
    time_words: Mapping[str, str] = field(default_factory=dict)  # "morning" -> "08:00"
    reminder_hours: tuple[time, time] = (time(8), time(21))  # when reminders may be sent
    hold_plan: Callable[[Mapping[str, Any]], Mapping[str, Any]] = (
        dict  # pauses a plan on a red flag
    )
    plan_replies: PlanReplies = field(default=lambda p, w, t, n: no_plan(p, w, t, n))
    lexicons: Mapping[str, Lexicon] = field(default_factory=dict)  # by language
    reader: Reader = field(default_factory=NoReader)  # the clinical NLP port (bot/nlp.py)
    lang: str = "en"  # the language this playbook reads and answers in (bot/core/language.py)


@dataclass(frozen=True)
class Inbound:
    text: str
    channel: str = "sms"
    media_count: int = 0
    lang: str | None = None  # the channel's hint (the web chat page's language), if any


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
    lang: str | None = None  # the visitor's language: the invitation and the plan speak it


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
    # A confirmation asked about an answer: {"question": id, "yes": value, "no": value or None}.
    pending: Mapping[str, Any] | None = None

    @property
    def in_questionnaire(self) -> bool:
        return self.step not in (None, DONE, DECLINED, REMINDER_OFFER)


@dataclass(frozen=True)
class Patient:
    phone: str
    opted_out: bool = False
    conversation: Conversation = field(default_factory=Conversation)
    plan: Mapping[str, Any] | None = None
    # Channel ("sms", "whatsapp") -> when the person last wrote on it: one person, one number.
    last_inbound: Mapping[str, datetime] = field(default_factory=dict)
    lang: str | None = None  # the language they are answered in; None until known


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
