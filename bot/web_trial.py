"""A web chat before it makes real progress: its state rides in the signed cookie, not Redis.

Anyone can open the chat page, so a visitor who only says hello (or floods "hi" from many
sessions) must cost the store nothing. The conversation and its few lines of transcript stay
in Flask's signed session cookie until the first real progress (an answer, an alert, a number);
then they are written to Redis and the chat carries on as a stored one.
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.model import Inbound
from bot.runtime import Runtime
from bot.store import patient_from_json, patient_to_json, progressed
from bot.writes import Writes

TRIAL_CHARS = 2000  # transcript text kept in the cookie (browsers cap a cookie near 4 KB)
Session = MutableMapping[str, Any]


def is_trial(session: Session) -> bool:
    return not session.get("kept")


def history(session: Session) -> list[dict[str, str]]:
    log = session.get("trial_log")
    return list(log) if isinstance(log, list) else []


@dataclass(frozen=True)
class Outcome:
    """replies: the answer while still a trial, None once stored; carried: the cookie's
    transcript lines, for the stored transcript."""

    replies: list[str] | None
    carried: list[dict[str, str]]


def advance(rt: Runtime, session: Session, patient_id: str, text: str, now: datetime,
            lang: str | None = None) -> Outcome:  # fmt: skip
    """Handle a message of a trial chat in the cookie; at the first real progress, write the
    cookie's state to the store and return replies=None so the caller handles the message as
    a stored chat."""
    raw = session.get("trial")
    before = patient_from_json(patient_id, raw if isinstance(raw, str) else None, False)
    after, replies, effects = rt.service.preview(before, Inbound(text, "web", lang=lang), now)
    if not effects and not progressed(after):
        said = [{"from": "you", "text": text}, *({"from": "bot", "text": r} for r in replies)]
        session["trial"] = patient_to_json(after)
        session["trial_log"] = _capped([*history(session), *said])
        return Outcome(replies, [])
    if before.conversation.step is not None:
        writes = Writes()
        rt.store.queue_save(writes, before)
        writes.apply(rt.redis)
    carried = history(session)
    for key in ("trial", "trial_log"):
        session.pop(key, None)
    session["kept"] = True
    return Outcome(None, carried)


def _capped(entries: list[dict[str, str]]) -> list[dict[str, str]]:
    """The newest entries whose JSON fits in TRIAL_CHARS (escaped, so emoji count six times):
    the cookie must stay under the browsers' 4 KB limit whatever a visitor types."""
    kept: list[dict[str, str]] = []
    total = 0
    for entry in reversed(entries):
        total += len(json.dumps(entry))
        if total > TRIAL_CHARS:
            break
        kept.append(entry)
    return kept[::-1]
