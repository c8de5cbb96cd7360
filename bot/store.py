"""Redis persistence of patients and triage records; JSON codecs; atomic per-number updates."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import redis

from bot import erase, keys
from bot.consent import OPT_OUT, RE_OPT_IN, ConsentEvent, number_tag
from bot.core.model import Conversation, Patient, TriageFinished
from bot.writes import Expect, Writes, script

T = TypeVar("T")
# redis.Redis or fakeredis.FakeRedis with decode_responses=True; redis-py's stubs can't say that
# replies are then str, so clients are typed loosely here and nowhere else.
Redis = Any
# Twilio's MessageSids are kept for the retention period, so a replayed signed request can
# never act again; a web chat's own message ids only guard against a browser's retry.
WEB_TRIAL_TTL = timedelta(hours=1)  # a web chat that never answered anything
WEB_SID_TTL = timedelta(hours=48)
CARRIER_OPT_OUT = 21610  # Twilio: the number replied STOP to the carrier, not to us
CONSENT_MAX = 500  # events kept per number (a dispute needs the history, not an unbounded list)
# Patient document, opted-out flag, and when named (ARGV[2], ARGV[3]) the MessageSid's earlier
# replies and a pending web invite to this number.
_READ = script("""
local seen, invite, k = false, false, 3
if ARGV[2] == '1' then seen = redis.call('GET', KEYS[k]); k = k + 1 end
if ARGV[3] == '1' then invite = redis.call('GET', KEYS[k]) end
return {redis.call('GET', KEYS[1]), redis.call('SISMEMBER', KEYS[2], ARGV[1]), seen, invite}
""")
Resume = Callable[[Patient, str, Writes], Patient]


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def patient_to_json(patient: Patient) -> str:
    c = patient.conversation
    doc = {
        "phone": patient.phone,
        "conversation": {
            "step": c.step,
            "answers": dict(c.answers),
            "invalid": c.invalid,
            "started_at": _iso(c.started_at),
            "last_at": _iso(c.last_at),
            "outcome": c.outcome,
            "alerted": list(c.alerted),
            "channel": c.channel,
            "callback": c.callback,
            "held": [list(h) for h in c.held],
            "pending": dict(c.pending) if c.pending else None,
        },
        "plan": dict(patient.plan) if patient.plan else None,
        "last_inbound": {channel: _iso(at) for channel, at in patient.last_inbound.items()},
        "lang": patient.lang,
    }
    return json.dumps(doc, separators=(",", ":"))


def patient_from_json(phone: str, raw: str | None, opted_out: bool) -> Patient:
    if not raw:
        return Patient(phone, opted_out=opted_out)
    doc = json.loads(raw)
    c = doc.get("conversation") or {}
    conv = Conversation(
        step=c.get("step"),
        answers=c.get("answers") or {},
        invalid=int(c.get("invalid") or 0),
        started_at=_dt(c.get("started_at")),
        last_at=_dt(c.get("last_at")),
        outcome=c.get("outcome"),
        alerted=tuple(c.get("alerted") or ()),
        channel=c.get("channel") or "sms",
        callback=c.get("callback"),
        held=tuple((str(a), str(b)) for a, b in c.get("held") or ()),
        pending=c.get("pending"),
    )
    return Patient(phone, opted_out=opted_out, conversation=conv, plan=doc.get("plan"),
                   last_inbound=_last_inbound(doc, conv), lang=doc.get("lang"))  # fmt: skip


def _last_inbound(doc: dict[str, Any], conv: Conversation) -> dict[str, datetime]:
    """When the person last wrote on each channel; a document saved before this was tracked
    has the conversation's channel and time."""
    if "last_inbound" in doc:
        return {str(k): datetime.fromisoformat(v) for k, v in (doc["last_inbound"] or {}).items()}
    return {conv.channel: conv.last_at} if conv.last_at and conv.channel != "web" else {}


def triage_record(phone: str, done: TriageFinished) -> dict[str, Any]:
    return {
        "phone": phone,
        "channel": done.channel,
        "outcome": done.outcome.level,
        "rule": done.outcome.rule,
        "reasons": list(done.outcome.reasons),
        "answers": dict(done.answers),
        "started_at": _iso(done.started_at),
        "finished_at": _iso(done.finished_at),
    }


def progressed(patient: Patient) -> bool:
    """Real progress: an answer, an outcome, an alert, a number, a plan or an opt-out."""
    c = patient.conversation
    return bool(c.answers or c.outcome or c.alerted or c.callback or c.held or patient.plan
                or patient.opted_out)  # fmt: skip


@dataclass(frozen=True)
class Seen:
    """A MessageSid processed before, with the replies it got then."""

    replies: list[str]


class Store:
    """The only code that reads or writes patient documents and triage records."""

    def __init__(self, client: Redis, *, retention: timedelta = timedelta(days=365),
                 secret: str = "") -> None:  # fmt: skip
        self.redis = client
        self.retention = retention
        self.secret = secret  # keys the HMAC that stands for a number in invite marks

    def tag(self, phone: str) -> str:
        return number_tag(self.secret, phone)

    def ping(self) -> bool:
        try:
            return bool(self.redis.ping())
        except redis.RedisError:
            return False

    def load(self, phone: str) -> Patient:
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(keys.patient(phone))
        pipe.sismember(keys.OPTED_OUT, phone)
        raw, opted = pipe.execute()
        return patient_from_json(phone, raw, bool(opted))

    def is_opted_out(self, phone: str) -> bool:
        return bool(self.redis.sismember(keys.OPTED_OUT, phone))

    def update(
        self,
        phone: str,
        change: Callable[[Patient, Writes], T],
        *,
        message_sid: str | None = None,
        invite: tuple[str, Resume] | None = None,
        attempts: int = 100,
    ) -> T | Seen:
        """Optimistic transaction on one number: `change` sees the patient and records writes.

        One round trip reads the document, the opt-out flag and the MessageSid mark; a second
        applies the writes only if none of those changed meanwhile (`Writes.commit`), else
        `change` runs again on a fresh read. So two messages from one number at once never
        lose an update. A MessageSid already processed returns Seen(replies) instead. A change
        that writes nothing is not checked again: its result holds for the state it read.
        `invite` (pending-invite key, resume): read in the same round trip; when it is there,
        `resume` turns the patient into the invited one before `change` sees it.
        """
        key = keys.patient(phone)
        sid_key = keys.message_sid(message_sid) if message_sid else None
        read = [
            key,
            keys.OPTED_OUT,
            *([sid_key] if sid_key else []),
            *(invite[:1] if invite else []),
        ]
        flags = [phone, "1" if sid_key else "0", "1" if invite else "0"]
        for _ in range(attempts):
            doc, opted, seen, pending = _READ(read, flags, client=self.redis)
            if seen:
                return Seen(list(json.loads(seen)))
            doc = None if doc is None else keys.text(doc)
            writes = Writes()
            patient = patient_from_json(phone, doc, bool(opted))
            if pending and invite:
                patient = invite[1](patient, keys.text(pending), writes)
            result = change(patient, writes)
            expect = Expect(key, doc, keys.OPTED_OUT, phone, bool(opted), sid_key)
            if not writes.ops or writes.commit(self.redis, expect):
                return result
        raise redis.WatchError(f"too much contention on ...{phone[-4:]}")

    def queue_save(self, pipe: Writes, patient: Patient) -> None:
        if patient.phone.startswith("web:") and not progressed(patient):
            # An anonymous visitor who only said hello: kept briefly, in no index.
            pipe.set(keys.patient(patient.phone), patient_to_json(patient), ex=WEB_TRIAL_TTL)
            return
        pipe.set(keys.patient(patient.phone), patient_to_json(patient), ex=self.retention)
        pipe.sadd(keys.PATIENTS, patient.phone)
        if patient.opted_out:
            pipe.sadd(keys.OPTED_OUT, patient.phone)
        else:
            pipe.srem(keys.OPTED_OUT, patient.phone)

    def queue_triage(self, pipe: Writes, phone: str, done: TriageFinished) -> str:
        record_id = uuid.uuid4().hex
        record = {"id": record_id, **triage_record(phone, done)}
        pipe.set(keys.triage(record_id), json.dumps(record), ex=self.retention)
        pipe.zadd(keys.TRIAGES, {record_id: done.finished_at.timestamp()})
        pipe.sadd(keys.triages_of(phone), record_id)
        pipe.expire(keys.triages_of(phone), self.retention)
        return record_id

    def triages(self, since: datetime | None = None) -> Iterator[dict[str, Any]]:
        """Finished triages, oldest first; drops index entries whose record expired."""
        low = since.timestamp() if since else "-inf"
        ids = [i if isinstance(i, str) else i.decode() for i in
               self.redis.zrangebyscore(keys.TRIAGES, low, "+inf")]  # fmt: skip
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for record_id, raw in zip(chunk, self.redis.mget([keys.triage(i) for i in chunk]),
                                      strict=True):  # fmt: skip
                if raw is None:
                    self.redis.zrem(keys.TRIAGES, record_id)
                    continue
                yield json.loads(raw)

    def queue_message_seen(self, pipe: Writes, sid: str, replies: list[str]) -> None:
        ttl = WEB_SID_TTL if sid.startswith("web:") else self.retention
        pipe.set(keys.message_sid(sid), json.dumps(replies), ex=ttl)

    # --- consent: every opt-in, opt-out and re-opt-in, for carriers and disputes ---
    def queue_consent(self, pipe: Writes, phone: str, event: ConsentEvent) -> None:
        key = keys.consent(phone)
        pipe.rpush(key, json.dumps(event.to_json(), separators=(",", ":")))
        pipe.ltrim(key, -CONSENT_MAX, -1)
        pipe.expire(key, self.retention)
        if event.event == OPT_OUT:
            pipe.zadd(keys.OPTED_OUT_AT, {phone: event.at.timestamp()})
        elif event.event == RE_OPT_IN:
            pipe.zrem(keys.OPTED_OUT_AT, phone)

    def carrier_refused(self, to: str, code: int | None, now: datetime) -> None:
        """A send the carrier refused because the person opted out there (Twilio 21610): an
        opt-out in the consent log too, though no words of theirs reached us."""
        if code != CARRIER_OPT_OUT:
            return
        phone = to.removeprefix("whatsapp:")
        channel = "whatsapp" if to.startswith("whatsapp:") else "sms"
        event = ConsentEvent(OPT_OUT, "all", now, channel, f"carrier opt-out (Twilio {code})",
                             None, None)  # fmt: skip
        writes = Writes()
        self.queue_consent(writes, phone, event)
        writes.apply(self.redis)

    def consent_log(self, phone: str) -> list[dict[str, Any]]:
        return [json.loads(item) for item in self.redis.lrange(keys.consent(phone), 0, -1)]

    # --- patient ids: scheduler jobs carry these instead of numbers ---
    def patient_id(self, phone: str) -> str:
        """The number's stable random id, created on first use (a race keeps the first one)."""
        if (known := self.redis.hget(keys.PATIENT_IDS, phone)) is not None:
            return str(known)
        fresh = secrets.token_hex(6)
        pipe = self.redis.pipeline()
        pipe.hsetnx(keys.PATIENT_IDS, phone, fresh)
        pipe.hsetnx(keys.PATIENT_PHONES, fresh, phone)
        created, _ = pipe.execute()
        if created:
            return fresh
        self.redis.hdel(keys.PATIENT_PHONES, fresh)  # lost the race: drop our reverse entry
        return str(self.redis.hget(keys.PATIENT_IDS, phone))

    def find_patient_id(self, phone: str) -> str | None:
        found = self.redis.hget(keys.PATIENT_IDS, phone)
        return None if found is None else str(found)

    def phone_of(self, patient_id: str) -> str | None:
        found = self.redis.hget(keys.PATIENT_PHONES, patient_id)
        return None if found is None else str(found)

    def forget(self, phone: str, *, dry_run: bool = False) -> list[erase.Removal]:
        """Everything stored about one number, and nothing about anyone else (bot.erase);
        with dry_run nothing is changed. Returns the plan either way."""
        tag = self.tag(phone)  # the invite marks stand for the number by its HMAC
        named = (keys.invite_pending(tag), keys.invite_sent(tag))
        return erase.forget(self.redis, phone, dry_run=dry_run, named=named)
