"""The consent record: which opt-ins, opt-outs and re-opt-ins a message made, and invite tags."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.core.flow import Question
from bot.core.model import Inbound, Patient

OPT_IN, OPT_OUT, RE_OPT_IN = "opt-in", "opt-out", "re-opt-in"
WORDS_MAX = 320  # characters of the message kept with an event: the words that did it


@dataclass(frozen=True)
class ConsentEvent:
    """One change of a number's consent: what, when, on which channel, the words that did it
    and what they answered (the question or offer asked, and the inbound MessageSid)."""

    event: str  # OPT_IN | OPT_OUT | RE_OPT_IN
    scope: str  # "messages" (the conversation) | "reminders" (a plan) | "all" (STOP/START)
    at: datetime
    channel: str
    words: str
    answering: str | None
    message_sid: str | None

    def to_json(self) -> dict[str, Any]:
        return {"event": self.event, "scope": self.scope, "at": self.at.astimezone(UTC).isoformat(),
                "channel": self.channel, "words": self.words[:WORDS_MAX],
                "answering": self.answering, "message_sid": self.message_sid}  # fmt: skip


def changes(before: Patient, after: Patient, inbound: Inbound, sid: str | None, now: datetime,
            gate: Question | None) -> list[ConsentEvent]:  # fmt: skip
    """What this message did to the number's consent, found by comparing before and after."""
    asked = before.conversation.step
    found: list[tuple[str, str]] = []
    if not before.opted_out and after.opted_out:
        found.append((OPT_OUT, "all"))
    elif before.opted_out and not after.opted_out:
        found.append((RE_OPT_IN, "all"))
    if gate is not None and _newly_agreed(before, after, gate):
        found.append((OPT_IN, "messages"))
    if _active(after) and not _active(before) and not (before.plan or {}).get("status"):
        found.append((OPT_IN, "reminders"))
    return [ConsentEvent(event, scope, now, inbound.channel, inbound.text, asked, sid)
            for event, scope in found]  # fmt: skip


def _newly_agreed(before: Patient, after: Patient, gate: Question) -> bool:
    """The consent question (the first one, which can end the conversation) answered yes."""
    if gate.id not in after.conversation.answers or before.conversation.step != gate.id:
        return False
    return bool(after.conversation.answers[gate.id] != gate.stop_if)


def _active(patient: Patient) -> bool:
    return (patient.plan or {}).get("status") == "active"


def number_tag(secret: str, phone: str) -> str:
    """A keyed HMAC of a number: marks about people who never wrote to us name no number,
    and without the key nobody can test a guess against them."""
    return hmac.new(secret.encode(), phone.encode(), hashlib.sha256).hexdigest()[:32]
