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
from bot.core.model import Conversation, Patient, TriageFinished
from bot.writes import Expect, Writes, script

T = TypeVar("T")
# redis.Redis or fakeredis.FakeRedis with decode_responses=True; redis-py's stubs can't say that
# replies are then str, so clients are typed loosely here and nowhere else.
Redis = Any
SID_TTL = timedelta(hours=48)
# Patient document, opted-out flag and (with a third key) the MessageSid's earlier replies.
_READ = script("""
local seen = false
if #KEYS > 2 then seen = redis.call('GET', KEYS[3]) end
return {redis.call('GET', KEYS[1]), redis.call('SISMEMBER', KEYS[2], ARGV[1]), seen}
""")


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
        },
        "plan": dict(patient.plan) if patient.plan else None,
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
    )
    return Patient(phone, opted_out=opted_out, conversation=conv, plan=doc.get("plan"))


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


@dataclass(frozen=True)
class Seen:
    """A MessageSid processed before, with the replies it got then."""

    replies: list[str]


class Store:
    """The only code that reads or writes patient documents and triage records."""

    def __init__(self, client: Redis, *, retention: timedelta = timedelta(days=365)) -> None:
        self.redis = client
        self.retention = retention

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
        attempts: int = 100,
    ) -> T | Seen:
        """Optimistic transaction on one number: `change` sees the patient and records writes.

        One round trip reads the document, the opt-out flag and the MessageSid mark; a second
        applies the writes only if none of those changed meanwhile (`Writes.commit`), else
        `change` runs again on a fresh read. So two messages from one number at once never
        lose an update. A MessageSid already processed returns Seen(replies) instead. A change
        that writes nothing is not checked again: its result holds for the state it read.
        """
        key = keys.patient(phone)
        sid_key = keys.message_sid(message_sid) if message_sid else None
        checked = [key, keys.OPTED_OUT, *([sid_key] if sid_key else [])]
        for _ in range(attempts):
            doc, opted, seen = _READ(checked, [phone], client=self.redis)
            if seen:
                return Seen(list(json.loads(seen)))
            doc = None if doc is None else keys.text(doc)
            writes = Writes()
            result = change(patient_from_json(phone, doc, bool(opted)), writes)
            expect = Expect(key, doc, keys.OPTED_OUT, phone, bool(opted), sid_key)
            if not writes.ops or writes.commit(self.redis, expect):
                return result
        raise redis.WatchError(f"too much contention on ...{phone[-4:]}")

    def queue_save(self, pipe: Writes, patient: Patient) -> None:
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
        pipe.set(keys.message_sid(sid), json.dumps(replies), ex=SID_TTL)

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

    def _forget_patient_id(self, phone: str) -> list[str]:
        """The id mapping, reminder jobs and sent marks of a number; returns sent-mark keys."""
        patient_id = self.find_patient_id(phone)
        if patient_id is None:
            return []
        jobs = (keys.reminder_job(patient_id), keys.reminder_retry_job(patient_id))
        pipe = self.redis.pipeline()
        pipe.hdel(keys.PATIENT_IDS, phone)
        pipe.hdel(keys.PATIENT_PHONES, patient_id)
        pipe.hdel(keys.APS_JOBS, *jobs)
        pipe.zrem(keys.APS_RUN_TIMES, *jobs)
        pipe.execute()
        return list(self.redis.scan_iter(match=keys.reminder_sent_pattern(patient_id)))

    def forget(self, phone: str) -> int:
        """Delete everything stored about a number; returns how many keys went."""
        r = self.redis
        sent_marks = self._forget_patient_id(phone)
        record_ids = r.smembers(keys.triages_of(phone))
        alert_refs = r.smembers(keys.alerts_of(phone))
        doomed = [*keys.keys_of(phone), *sent_marks]
        doomed += [keys.triage(i) for i in record_ids]
        doomed += [keys.alert(ref) for ref in alert_refs]
        pipe = r.pipeline()
        pipe.delete(*doomed)
        if record_ids:
            pipe.zrem(keys.TRIAGES, *record_ids)
        if alert_refs:
            pipe.zrem(keys.ALERTS, *alert_refs)
            pipe.srem(keys.ALERTS_OPEN, *alert_refs)
            timers = [f"{ref}|{stage}" for ref in alert_refs for stage in ("resend", "backup")]
            pipe.zrem(keys.ALERT_TIMERS, *timers)
        pipe.srem(keys.PATIENTS, phone)
        pipe.srem(keys.OPTED_OUT, phone)
        pipe.hdel(keys.UNREACHABLE, phone)
        deleted = pipe.execute()[0]
        return int(deleted) + erase.sweep(r, phone)  # what no index leads to (outbox, caches)
