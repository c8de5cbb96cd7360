"""Staff alerts: records behind a short reference, fan-out via the outbox lanes, ACK/OPEN,
re-escalation, and re-routing around a staff number that cannot be reached."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import redis

from bot import keys, outbox, reach
from bot.config_schema import WebAlertCaps
from bot.core.sending import Entry, Lane, lane_for
from bot.privacy import mask
from bot.render import segments
from bot.store import Redis
from bot.web_alerts import DIGEST_STAGE, WebAlertGate, level_summary, numberless
from bot.writes import Writes

log = logging.getLogger(__name__)
REF_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud over the phone
TEMPLATES = ("staff_alert", "staff_claimed", "patient_callback_coming", "staff_digest",
             "staff_open")  # fmt: skip
REROUTED_STAGES = frozenset({"initial", "resend", "backup", DIGEST_STAGE})
ALL_AT_ONCE = frozenset({"emergency", "urgent", "priority_call"})
RE_ESCALATE = frozenset({"emergency", "urgent"})
Render = Callable[..., str]  # Renderer.render(template, context, channel, lang)
# Queues a message to a patient (number, message id, text) by the route they can be reached on.
PatientNotice = Callable[[Writes, str, str, str], None]


@dataclass(frozen=True)
class StaffSetup:
    on_call: tuple[str, ...]
    backup: str | None
    resend_after: timedelta
    backup_after: timedelta
    web_caps: WebAlertCaps = field(default_factory=WebAlertCaps)


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
        self.gate = WebAlertGate(client, staff.web_caps)
        self.patient_notice: PatientNotice | None = None  # bot.whatsapp.Outreach.queue_staff_reply

    def recipients(self, level: str) -> tuple[str, ...]:
        return self.staff.on_call if level in ALL_AT_ONCE else self.staff.on_call[:1]

    def queue_create(self, pipe: Writes, *, level: str, rule: str, phone: str, channel: str,
                     now: datetime, origin: str | None = None, lang: str = "") -> str:  # fmt: skip
        """Queue an alert record, its staff messages and its timers on an open MULTI. An alert
        nobody can call back (a web visitor without a number) pages within the caps, in a
        lower lane, and is never re-escalated; beyond the caps it waits for the digest."""
        ref = allocate_ref(self.redis, self.retention)
        record = {"ref": ref, "level": level, "rule": rule, "phone": phone, "channel": channel,
                  "created": now.isoformat(), "status": "open", "stage": "initial",
                  "lang": lang}  # fmt: skip
        unreachable = numberless(phone)
        paged = not unreachable or self.gate.admit(phone, level, origin, now)
        if not paged:
            record["status"] = "folded"
        pipe.hset(keys.alert(ref), mapping=record)
        pipe.expire(keys.alert(ref), self.retention)
        pipe.zadd(keys.ALERTS, {ref: now.timestamp()})
        pipe.sadd(keys.alerts_of(phone), ref)
        pipe.expire(keys.alerts_of(phone), self.retention)  # the number in its name expires too
        if not paged:
            self.gate.queue_fold(pipe, ref, now)
            return ref
        pipe.sadd(keys.ALERTS_OPEN, ref)
        body = self.render("staff_alert", {"alert": record})
        lane = lane_for("alert", level, actionable=not unreachable)
        for to in self.recipients(level):
            outbox.queue(pipe, message_id=f"alert:{ref}:{to}:initial", to=to, body=body,
                         kind="alert", lane=lane)  # fmt: skip
        if level in RE_ESCALATE and not unreachable:
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

    def open_summary(self) -> str:
        """What OPEN answers: unclaimed alerts newest first, as many as fit one SMS, "+N more"."""
        found = [a for a in (self.get(r) for r in self.open_refs()) if a]
        found.sort(key=lambda a: a.get("created", ""), reverse=True)
        for shown in range(len(found), -1, -1):
            text = self.render("staff_open", {"alerts": found[:shown], "more": len(found) - shown})
            if segments(text) == 1 or shown == 0:
                return text
        raise AssertionError("unreachable")  # pragma: no cover

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
            outbox.queue(pipe, message_id=f"alert:{ref}:{to}:claimed", to=to, body=notice,
                         kind="alert", lane=Lane.STAFF)  # fmt: skip
        if alert["phone"].startswith("web:"):
            return  # a web visitor without a number: nobody to text
        patient_msg = self.render("patient_callback_coming", {}, "sms", alert.get("lang") or None)
        if self.patient_notice is not None:
            self.patient_notice(pipe, alert["phone"], f"alert:{ref}:patient", patient_msg)
            return
        to = address(alert["phone"], alert["channel"])
        outbox.queue(
            pipe, message_id=f"alert:{ref}:patient", to=to, body=patient_msg, kind="notice"
        )

    def run_timers_tick(self, now: datetime) -> None:
        self.run_timers(now)

    def run_timers(self, now: datetime) -> int:
        """Re-send unclaimed emergency/urgent alerts, then go to the backup number."""
        fired = 0
        for slot in self.redis.zrangebyscore(keys.WEB_ALERT_DIGESTS, "-inf", now.timestamp()):
            self._send_digest(int(slot))
            fired += 1
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
        lane = lane_for("alert", alert["level"])
        for to in targets:
            outbox.queue(pipe, message_id=f"alert:{ref}:{to}:{stage}", to=to, body=body,
                         kind="alert", lane=lane)  # fmt: skip
        pipe.apply(self.redis)

    def _send_digest(self, slot: int) -> None:
        """One SMS for the hour's folded web alerts, to the first on-call number, with its timer
        removed in the same batch."""
        # Still folded: a visitor who gave a number since has had a real alert instead.
        folded = [a for a in map(self.get, self.gate.folded(slot)) if a and a["status"] == "folded"]
        levels = [a["level"] for a in folded]
        pipe = Writes()
        pipe.zrem(keys.WEB_ALERT_DIGESTS, str(slot))
        if levels:
            body = self.render("staff_digest", {"count": len(levels),
                                                "levels": level_summary(levels)})  # fmt: skip
            to = self.staff.on_call[0]
            outbox.queue(pipe, message_id=f"alert:digest-{slot}:{to}:{DIGEST_STAGE}", to=to,
                         body=body, kind="alert", lane=Lane.STAFF)  # fmt: skip
        pipe.apply(self.redis)

    def reroute(self, entry: Entry, why: str) -> None:
        """A staff alert could not reach its number: send it to the next on-call number that
        can be reached and to the backup; every hop is logged, none is silent."""
        base = entry.message_id.split(">")[0]
        parts = base.split(":")
        if parts[0] != "alert" or parts[-1] not in REROUTED_STAGES:
            return  # claim notices and patient messages are not re-routed
        alert = self.get(parts[1])
        if alert is not None and alert["status"] == "claimed":
            log.info("alert %s: not re-routed, %s already took it", base,
                     mask(alert.get("claimed_by", "")))  # fmt: skip
            return
        had_it = set(self.recipients(alert["level"])) if alert else set()
        targets = self._reroute_targets(reach.bare(entry.to), had_it)
        if not targets:
            log.error("alert %s: no reachable staff number left after %s (%s); fix the on-call "
                      "list or text START from a staff phone", base, mask(entry.to), why)  # fmt: skip
            return
        lane = entry.lane if alert is None else lane_for(
            "alert", alert["level"], actionable=not numberless(alert["phone"]))  # fmt: skip
        pipe = Writes()
        for to in targets:
            log.warning("alert %s: %s %s, re-routed to %s", base, mask(entry.to), why, mask(to))
            outbox.queue(pipe, message_id=f"{base}>{to}", to=to, body=entry.body, kind="alert",
                         lane=lane)  # fmt: skip
        pipe.apply(self.redis)

    def _reroute_targets(self, failed: str, had_it: set[str]) -> list[str]:
        """The next on-call number after `failed` that has not had it, then the backup."""
        on_call = list(self.staff.on_call)
        after = on_call[on_call.index(failed) + 1 :] if failed in on_call else on_call
        blocked = reach.refusals(
            self.redis, [*on_call, *([self.staff.backup] if self.staff.backup else [])]
        )
        usable = [n for n in after if n not in had_it and n not in blocked and n != failed]
        targets = usable[:1]
        backup = self.staff.backup
        if backup and backup != failed and backup not in blocked and backup not in targets:
            targets.append(backup)
        return targets


def staff_command(text: str) -> tuple[str, str | None]:
    """('ack'|'clear', REF) | ('open'|'start', None) | ('unknown', None) for a staff text."""
    words = text.strip().upper().replace(",", " ").replace(".", " ").replace("!", " ").split()
    if words in (["START"], ["UNSTOP"]):
        return "start", None
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
