"""What the outbox does with one entry: lanes, the send mark, and decide(entry, state, now)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import IntEnum, StrEnum
from typing import Any

Fields = Mapping[Any, Any]
SETTLE_SECONDS = 30.0  # after an ambiguous send: time for Twilio to list what it accepted
LOOKUP_RETRY = 15.0  # a failed look-up is asked again after this, never answered by a re-send


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Lane(IntEnum):
    """Outbox lanes, served strictly in this order (lower first)."""

    EMERGENCY = 0
    URGENT = 1
    STAFF = 2  # other staff messages: callbacks, leads, claim notices, digests
    REST = 3  # patients: reminders, invites, notices


def lane_for(kind: str, level: str | None = None, *, actionable: bool = True) -> Lane:
    """The lane of a message. An alert nobody can act on (a web visitor without a number)
    goes one lane lower: it must never hold up an emergency staff can call back."""
    if kind != "alert":
        return Lane.REST
    lane = {"emergency": Lane.EMERGENCY, "urgent": Lane.URGENT}.get(level or "", Lane.STAFF)
    return lane if actionable or lane is Lane.STAFF else Lane(lane + 1)


def batch_size(rate: float | None, claim_idle_seconds: float) -> int:
    """How many entries to take at once: what the shared rate lets out in a few seconds, and
    well inside the time after which another worker may claim them."""
    if rate is None:
        return 10
    return max(1, min(10, math.floor(rate * min(2.0, claim_idle_seconds / 4))))


@dataclass(frozen=True)
class Entry:
    message_id: str
    to: str
    body: str
    kind: str
    not_before: float | None = None
    attempt: int = 0
    not_after: float | None = None  # a reminder past its local quiet-hours end is dropped
    lane: Lane = Lane.REST
    content: str | None = None  # a WhatsApp template send: {"sid", "vars"} as JSON (whatsapp.py)
    alt: str | None = None  # routes to try if WhatsApp refuses it as outside its 24-hour window

    def fields(self) -> dict[str, str]:
        """The stream fields."""
        fields = {"id": self.message_id, "to": self.to, "body": self.body, "kind": self.kind}
        fields.update(self.routing())
        if self.not_before is not None:
            fields["not_before"] = f"{self.not_before:.3f}"
        if self.not_after is not None:
            fields["not_after"] = f"{self.not_after:.3f}"
        if self.attempt:
            fields["attempt"] = str(self.attempt)
        if self.lane is not Lane.REST:
            fields["lane"] = str(int(self.lane))
        return fields

    def next_route(self) -> Entry | None:
        """This message by its next route (a template, then SMS), or None when none is left."""
        hops: list[dict[str, str]] = json.loads(self.alt) if self.alt else []
        if not hops:
            return None
        hop, rest = hops[0], hops[1:]
        return replace(self, to=hop["to"], body=hop["body"], content=hop.get("content") or None,
                       alt=json.dumps(rest) if rest else None)  # fmt: skip

    def routing(self) -> dict[str, str]:
        """The WhatsApp routing fields that are set (kept with the delivery record too)."""
        return {k: v for k, v in (("content", self.content), ("alt", self.alt)) if v}

    @classmethod
    def from_fields(cls, fields: Fields) -> Entry:
        f = {_text(k): _text(v) for k, v in fields.items()}
        not_before = float(f["not_before"]) if f.get("not_before") else None
        message_id = f.get("id") or f["message_id"]
        attempt = int(f.get("attempt") or 0)
        not_after = float(f["not_after"]) if f.get("not_after") else None
        lane = Lane(int(f.get("lane") or Lane.REST))
        return cls(message_id, f["to"], f["body"], f.get("kind", ""), not_before, attempt,
                   not_after, lane, f.get("content") or None, f.get("alt") or None)  # fmt: skip


class MarkState(StrEnum):
    SENDING = "sending"  # its owner is calling Twilio now
    UNKNOWN = "unknown"  # a send whose outcome was lost: reconcile before anything else


@dataclass(frozen=True)
class Mark:
    """The send mark: who sends, since when. It is the lock: only its taker calls Twilio."""

    owner: str
    at: float
    state: MarkState = MarkState.SENDING

    def dump(self) -> str:
        return json.dumps({"owner": self.owner, "at": self.at, "state": self.state.value})

    @classmethod
    def load(cls, raw: str) -> Mark:
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):  # a bare timestamp from before owners were recorded
            return cls("", float(raw), MarkState.UNKNOWN)
        return cls(str(data["owner"]), float(data["at"]), MarkState(data["state"]))


@dataclass(frozen=True)
class EntryState:
    sent: bool = False
    blocked: bool = False  # the recipient opted out or cannot be reached
    mark: Mark | None = None
    owner_alive: bool = False  # the mark's owner still renews its heartbeat


class Do(StrEnum):
    FINISH = "finish"  # already sent, or a patient who cannot be texted: ack, nothing more
    REROUTE = "reroute"  # a staff alert to a number that cannot be reached: next + backup
    DROP = "drop"  # a reminder whose allowed hours are over
    PARK = "park"  # not yet: back to the delayed set until `at`
    LEAVE = "leave"  # another live worker is sending it: do not touch
    RECONCILE = "reconcile"  # a send of unknown outcome: look it up at Twilio first
    SEND = "send"


@dataclass(frozen=True)
class Action:
    do: Do
    at: float | None = None


def decide(entry: Entry, state: EntryState, now: float, me: str,
           settle: float = SETTLE_SECONDS) -> Action:  # fmt: skip
    """The one place that decides what happens to an outbox entry; the loop only carries it out."""
    if state.sent:
        return Action(Do.FINISH)
    if state.blocked:
        return Action(Do.REROUTE if entry.kind == "alert" else Do.FINISH)
    if entry.not_after is not None and now > entry.not_after:
        return Action(Do.DROP)
    if entry.not_before is not None and entry.not_before > now:
        return Action(Do.PARK, entry.not_before)
    mark = state.mark
    if mark is None:
        return Action(Do.SEND)
    # My own "sending" mark in a fresh read means my attempt failed between send and record.
    mine = mark.owner == me
    if mark.state is MarkState.SENDING and state.owner_alive and not mine:
        return Action(Do.LEAVE)
    if now < mark.at + settle:
        return Action(Do.PARK, mark.at + settle)
    return Action(Do.RECONCILE)
