"""Staff alerts: records behind a short reference, fan-out via the outbox, ACK/OPEN, re-escalation."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis

from bot import keys, outbox
from bot.store import Redis
from bot.writes import Writes

log = logging.getLogger(__name__)
REF_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud over the phone
TEMPLATES = ("staff_alert", "staff_claimed", "patient_callback_coming")
ALL_AT_ONCE = frozenset({"emergency", "urgent", "priority_call"})
RE_ESCALATE = frozenset({"emergency", "urgent"})
Render = Callable[[str, dict[str, Any]], str]


@dataclass(frozen=True)
class StaffSetup:
    on_call: tuple[str, ...]
    backup: str | None
    resend_after: timedelta
    backup_after: timedelta


REF_LENGTH = 5  # 31^5 = 28.6 million references
REF_TRIES = 8  # then a longer reference: allocation never loops unbounded


def new_ref(length: int = REF_LENGTH) -> str:
    return "".join(secrets.choice(REF_ALPHABET) for _ in range(length))


def allocate_ref(client: Redis, ttl: timedelta) -> str:
    """A reference nobody else holds, claimed atomically (SET NX) for the retention period.
    After REF_TRIES collisions the length grows by one, so a crowded space costs a few extra
    round trips and a longer reference, never a hung request."""
    for attempt in range(REF_TRIES * 3):
        ref = new_ref(REF_LENGTH + attempt // REF_TRIES)
        if client.set(keys.alert_ref(ref), "1", nx=True, ex=ttl):
            return ref
    raise AlertRefsExhausted(f"no free alert reference after {REF_TRIES * 3} tries")


class AlertRefsExhausted(RuntimeError):
    """Only if Redis answers every SET NX with 'taken': a broken store, not a full one."""


def address(phone: str, channel: str) -> str:
    return f"whatsapp:{phone}" if channel == "whatsapp" else phone


class Alerts:
    """Creates alerts inside a patient's transaction and runs the staff side of them."""

    def __init__(self, client: Redis, staff: StaffSetup, render: Render,
                 retention: timedelta) -> None:  # fmt: skip
        self.redis = client
        self.staff = staff
        self.render = render
        self.retention = retention

    def recipients(self, level: str) -> tuple[str, ...]:
        return self.staff.on_call if level in ALL_AT_ONCE else self.staff.on_call[:1]

    def queue_create(self, pipe: Writes, *, level: str, rule: str, phone: str, channel: str,
                     now: datetime) -> str:  # fmt: skip
        """Queue an alert record, its staff messages and its timers on an open MULTI."""
        ref = allocate_ref(self.redis, self.retention)
        record = {"ref": ref, "level": level, "rule": rule, "phone": phone, "channel": channel,
                  "created": now.isoformat(), "status": "open", "stage": "initial"}  # fmt: skip
        pipe.hset(keys.alert(ref), mapping=record)
        pipe.expire(keys.alert(ref), self.retention)
        pipe.zadd(keys.ALERTS, {ref: now.timestamp()})
        pipe.sadd(keys.ALERTS_OPEN, ref)
        pipe.sadd(keys.alerts_of(phone), ref)
        pipe.expire(keys.alerts_of(phone), self.retention)  # the number in its name expires too
        body = self.render("staff_alert", {"alert": record})
        for to in self.recipients(level):
            outbox.queue(
                pipe, message_id=f"alert:{ref}:{to}:initial", to=to, body=body, kind="alert"
            )
        if level in RE_ESCALATE:
            pipe.zadd(
                keys.ALERT_TIMERS, {f"{ref}|resend": (now + self.staff.resend_after).timestamp()}
            )
        return ref

    def queue_supersede(self, pipe: Writes, phone: str, now: datetime) -> None:
        """Close the open alerts of a web visitor once an alert with their number replaces them."""
        for ref in (keys.text(r) for r in self.redis.smembers(keys.alerts_of(phone))):
            pipe.hset(
                keys.alert(ref), mapping={"status": "superseded", "claimed_at": now.isoformat()}
            )
            pipe.srem(keys.ALERTS_OPEN, ref)
            pipe.zrem(keys.ALERT_TIMERS, f"{ref}|resend", f"{ref}|backup")

    def get(self, ref: str) -> dict[str, str] | None:
        raw = self.redis.hgetall(keys.alert(ref.upper()))
        return {keys.text(k): keys.text(v) for k, v in raw.items()} if raw else None

    def open_refs(self) -> list[str]:
        return sorted(keys.text(r) for r in self.redis.smembers(keys.ALERTS_OPEN))

    def listing(self, limit: int = 100) -> list[dict[str, str]]:
        refs = [keys.text(r) for r in self.redis.zrevrange(keys.ALERTS, 0, limit - 1)]
        return [a for a in (self.get(r) for r in refs) if a]

    def ack(self, ref: str, staff_phone: str, now: datetime) -> tuple[str, dict[str, str] | None]:
        """Claim an alert. Returns (result, alert): claimed | already | unknown."""
        ref = ref.upper()
        key = keys.alert(ref)
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.hgetall(key)
                    if not raw:
                        return "unknown", None
                    alert = {keys.text(k): keys.text(v) for k, v in raw.items()}
                    if alert["status"] == "claimed":
                        return "already", alert
                    claim = {
                        "status": "claimed",
                        "claimed_by": staff_phone,
                        "claimed_at": now.isoformat(),
                    }
                    alert.update(claim)
                    writes = Writes()
                    writes.hset(key, mapping=claim)
                    writes.srem(keys.ALERTS_OPEN, ref)
                    writes.zrem(keys.ALERT_TIMERS, f"{ref}|resend", f"{ref}|backup")
                    self._queue_claim_notices(writes, alert, staff_phone)
                    pipe.multi()
                    writes.apply(pipe)
                    pipe.execute()
                    return "claimed", alert
                except redis.WatchError:
                    continue

    def _queue_claim_notices(self, pipe: Writes, alert: dict[str, str], staff_phone: str) -> None:
        ref = alert["ref"]
        notice = self.render("staff_claimed", {"alert": alert, "by": staff_phone})
        others = [n for n in (*self.staff.on_call, self.staff.backup) if n and n != staff_phone]
        for to in others:
            outbox.queue(
                pipe, message_id=f"alert:{ref}:{to}:claimed", to=to, body=notice, kind="alert"
            )
        if alert["phone"].startswith("web:"):
            return  # a web visitor without a number: nobody to text
        patient_msg = self.render("patient_callback_coming", {})
        to = address(alert["phone"], alert["channel"])
        outbox.queue(
            pipe, message_id=f"alert:{ref}:patient", to=to, body=patient_msg, kind="notice"
        )

    def run_timers_tick(self, now: datetime) -> None:
        self.run_timers(now)

    def run_timers(self, now: datetime) -> int:
        """Re-send unclaimed emergency/urgent alerts, then go to the backup number."""
        fired = 0
        for member in self.redis.zrangebyscore(keys.ALERT_TIMERS, "-inf", now.timestamp()):
            item = keys.text(member)
            ref, stage = item.split("|")
            alert = self.get(ref)
            if not alert or alert["status"] != "open":
                self.redis.zrem(keys.ALERT_TIMERS, item)
                continue
            try:
                self._escalate(alert, stage, now, item)
            except Exception:  # one broken alert must not hold up every other escalation
                log.exception("alert %s: escalation %s failed; will retry", ref, stage)
                continue
            fired += 1
        return fired

    def _escalate(self, alert: dict[str, str], stage: str, now: datetime, timer: str) -> None:
        """The timer goes in the same transaction as its messages: a failure loses neither.
        Two workers racing both write the same things; outbox ids make the sends happen once."""
        ref = alert["ref"]
        body = self.render("staff_alert", {"alert": {**alert, "stage": stage}})
        targets: Sequence[str] = self.recipients(alert["level"])
        pipe = Writes()  # applied at once: the timer is never gone without its messages
        pipe.zrem(keys.ALERT_TIMERS, timer)
        if stage == "backup" and self.staff.backup:
            targets = (self.staff.backup,)
        elif stage == "resend":
            due = now + (self.staff.backup_after - self.staff.resend_after)
            pipe.zadd(keys.ALERT_TIMERS, {f"{ref}|backup": due.timestamp()})
        pipe.hset(keys.alert(ref), "stage", stage)
        for to in targets:
            outbox.queue(
                pipe, message_id=f"alert:{ref}:{to}:{stage}", to=to, body=body, kind="alert"
            )
        pipe.apply(self.redis)


def staff_command(text: str) -> tuple[str, str | None]:
    """('ack'|'clear', REF) | ('open', None) | ('unknown', None) for a staff member's text."""
    words = text.strip().upper().replace(",", " ").split()
    if len(words) == 2 and words[0] in ("ACK", "CLAIM", "TAKE"):
        return "ack", words[1]
    if words and words[0] in ("OPEN", "LIST", "ALERTS"):
        return "open", None
    if len(words) == 2 and words[0] in ("CLEAR", "RELEASE"):
        return "clear", words[1]
    if (
        len(words) == 1
        and REF_LENGTH <= len(words[0]) <= REF_LENGTH + 2
        and all(c in REF_ALPHABET for c in words[0])
    ):
        return "ack", words[0]
    return "unknown", None
