"""The Redis Stream outbox: enqueueing, the consumer group that sends, delivery-status policy."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import redis

from bot import keys
from bot.privacy import mask
from bot.ratelimit import RateLimiter
from bot.twilio_sender import OPTED_OUT, UNREACHABLE_CODES, Sender, SendResult, TransientSendError
from bot.writes import Writes

log = logging.getLogger(__name__)

WEEK = 7 * 24 * 3600  # enqueue dedupe and in-flight marks
RECORDS = 2 * 24 * 3600  # sent marks and delivery records: status callbacks come within hours
RECONCILE_SKEW = 30.0  # seconds: our clock vs Twilio's date_created (whole seconds)
STOP_CODES = frozenset({*UNREACHABLE_CODES, 30005, 30006})
DEAD_LETTER_DAYS = 30
MAX_BACKOFF = 5.0  # seconds between reconnect attempts at most
Fields = Mapping[Any, Any]

_SWAP_MARK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""


@dataclass(frozen=True)
class Entry:
    message_id: str
    to: str
    body: str
    kind: str
    not_before: float | None = None
    attempt: int = 0
    not_after: float | None = None  # a reminder past its local quiet-hours end is dropped

    def fields(self) -> dict[str, str]:
        """The stream fields."""
        fields = {"id": self.message_id, "to": self.to, "body": self.body, "kind": self.kind}
        if self.not_before is not None:
            fields["not_before"] = f"{self.not_before:.3f}"
        if self.not_after is not None:
            fields["not_after"] = f"{self.not_after:.3f}"
        if self.attempt:
            fields["attempt"] = str(self.attempt)
        return fields

    @classmethod
    def from_fields(cls, fields: Fields) -> Entry:
        f = {keys.text(k): keys.text(v) for k, v in fields.items()}
        not_before = float(f["not_before"]) if f.get("not_before") else None
        message_id = f.get("id") or f["message_id"]
        attempt = int(f.get("attempt") or 0)
        not_after = float(f["not_after"]) if f.get("not_after") else None
        return cls(
            message_id, f["to"], f["body"], f.get("kind", ""), not_before, attempt, not_after
        )


def enqueue(client: redis.Redis, *, message_id: str, to: str, body: str, kind: str,
            not_before: float | None = None, not_after: float | None = None) -> bool:  # fmt: skip
    """Add a message once per message_id (for 7 days); False if it was already enqueued."""
    writes = Writes()
    queue(writes, message_id=message_id, to=to, body=body, kind=kind, not_before=not_before,
          not_after=not_after)  # fmt: skip
    return writes.apply(client) == 1


def queue(writes: Writes, *, message_id: str, to: str, body: str, kind: str,
          not_before: float | None = None, not_after: float | None = None) -> None:  # fmt: skip
    """`enqueue` as part of a batch: dedupe mark and stream entry are written together, or
    neither is (the mark alone would lose the message)."""
    entry = Entry(message_id, to, body, kind, not_before, not_after=not_after)
    writes.enqueue_once(keys.outbox_enqueued(message_id), WEEK, keys.OUTBOX, entry.fields())


def bare(to: str) -> str:
    """The number as stored in the opt-out and unreachable sets (no channel prefix)."""
    return to.removeprefix("whatsapp:")


def mark_permanent(pipe: Any, to: str, code: int | None) -> None:
    if code == OPTED_OUT:
        pipe.sadd(keys.OPTED_OUT, bare(to))
    elif code in STOP_CODES:
        pipe.hset(keys.UNREACHABLE, bare(to), str(code))


class OutboxConsumer:
    """One member of the `senders` group: reads, claims abandoned entries, sends, acks."""

    def __init__(self, client: redis.Redis, sender: Sender, *, consumer_name: str,
                 is_opted_out: Callable[[str], bool] | None = None,
                 on_permanent: Callable[[str, int | None], None] | None = None,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep,
                 rate: float | RateLimiter | None = 1.0, sender_key: str = "default",
                 claim_idle_ms: int = 30_000, block_ms: int = 1000, batch: int = 10,
                 max_attempts: int = 8) -> None:  # fmt: skip
        self.redis = client
        self.sender = sender
        self.name = consumer_name
        self.is_opted_out = is_opted_out
        self.on_permanent = on_permanent
        self.clock = clock
        self.sleep = sleep
        self.rate = RateLimiter(client, rate) if isinstance(rate, int | float) else rate
        self.sender_key = sender_key
        self.claim_idle_ms = claim_idle_ms
        self.block_ms = block_ms
        self.batch = batch
        self.max_attempts = max_attempts
        self._group_ready = False
        self._claim_cursor = "0-0"

    # --- the loop ---
    def run_forever(self, stop: threading.Event) -> None:
        backoff = 0.0  # seconds; grows while Redis is unreachable, so an outage is not a storm
        while not stop.is_set():
            try:
                self.run_once()
            except (redis.ConnectionError, redis.TimeoutError):
                if not backoff:
                    log.warning("outbox: redis unreachable; reconnecting with backoff")
                backoff = min(MAX_BACKOFF, backoff * 2 or 0.25)
                self._group_ready = False
                stop.wait(backoff)
                continue
            except Exception:
                log.exception("outbox: batch failed")
                stop.wait(1.0)
            if backoff:
                log.info("outbox: redis reachable again")
                backoff = 0.0

    def run_once(self) -> int:
        """Promote due delayed entries, claim abandoned ones, read new ones; the number handled."""
        self._ensure_group()
        self._promote_due()
        try:
            entries = [(eid, f, True) for eid, f in self._claim()]
            entries += [(eid, f, False) for eid, f in self._read(block=not entries)]
        except redis.ResponseError as exc:
            # Real Redis says NOGROUP; fakeredis says the key must exist.
            if "NOGROUP" not in str(exc) and "key to exist" not in str(exc):
                raise
            self._group_ready = False  # the stream vanished (e.g. a fresh Redis): recreate
            return 0
        for entry_id, fields, reclaimed in entries:
            self._handle(keys.text(entry_id), fields, reclaimed)
        return len(entries)

    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            self.redis.xgroup_create(keys.OUTBOX, keys.OUTBOX_GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def _read(self, *, block: bool) -> list[tuple[Any, Fields]]:
        answer: Any = self.redis.xreadgroup(
            keys.OUTBOX_GROUP, self.name, {keys.OUTBOX: ">"}, count=self.batch,
            block=self.block_ms if block and self.block_ms > 0 else None,
        )  # fmt: skip
        return [item for _stream, items in (answer or []) for item in items]

    def _claim(self) -> list[tuple[Any, Fields]]:
        answer: Any = self.redis.xautoclaim(
            keys.OUTBOX,
            keys.OUTBOX_GROUP,
            self.name,
            self.claim_idle_ms,
            self._claim_cursor,
            count=self.batch,
        )
        self._claim_cursor = keys.text(answer[0])
        return list(answer[1])

    def _promote_due(self) -> None:
        """Move delayed entries whose time has come back into the stream, exactly once."""
        pipe: Any
        with self.redis.pipeline() as pipe:
            try:
                pipe.watch(keys.OUTBOX_DELAYED)
                due = pipe.zrangebyscore(keys.OUTBOX_DELAYED, "-inf", self.clock(), 0, 100)
                if not due:
                    return
                pipe.multi()
                for member in due:
                    pipe.zrem(keys.OUTBOX_DELAYED, member)
                    pipe.xadd(keys.OUTBOX, json.loads(member))
                pipe.execute()
            except redis.WatchError:
                pass  # another worker promoted them

    # --- one message ---
    def _handle(self, entry_id: str, fields: Fields | None, reclaimed: bool) -> None:
        if not fields:  # deleted while pending: nothing left to send
            self._finish(entry_id)
            return
        try:
            entry = Entry.from_fields(fields)
        except (KeyError, ValueError):
            self._poison(entry_id, fields)
            return
        now = self.clock()
        sent, blocked, started = self._state(entry)
        if sent or blocked:
            self._finish(entry_id)
        elif entry.not_after is not None and now > entry.not_after:
            log.info("outbox: %s dropped: its quiet hours began", entry.message_id)
            self._finish(entry_id)
        elif entry.not_before is not None and entry.not_before > now:
            self._park(entry_id, entry, entry.not_before)
        elif started is not None:
            self._reconcile(entry_id, entry, started, reclaimed, now)
        else:
            self._send(entry_id, entry)

    def _state(self, entry: Entry) -> tuple[bool, bool, str | None]:
        """(already sent, recipient blocked, when a send began) in one round trip."""
        number = bare(entry.to)
        pipe = self.redis.pipeline(transaction=False)
        pipe.exists(keys.outbox_sent(entry.message_id))
        pipe.sismember(keys.OPTED_OUT, number)
        pipe.hget(keys.UNREACHABLE, number)
        pipe.get(keys.outbox_sending(entry.message_id))
        sent, opted_out, code, started = pipe.execute()
        blocked = bool(opted_out) or (code is not None and int(code) in STOP_CODES)
        if not blocked and self.is_opted_out is not None:
            blocked = self.is_opted_out(number)
        return bool(sent), blocked, None if started is None else keys.text(started)

    def _reconcile(self, entry_id: str, entry: Entry, stamp: str, reclaimed: bool,
                   now: float) -> None:  # fmt: skip
        """A send was attempted before: ask Twilio whether it went out before trying again."""
        started = float(stamp)
        if reclaimed and now - started < self.claim_idle_ms / 1000:
            return  # its owner may still be sending: leave it pending, look again later
        try:
            sid = self.sender.find_sent(entry.to, entry.body, started - RECONCILE_SKEW)
        except TransientSendError:
            return  # stays pending; claimed again later
        if sid:
            log.info("outbox: %s to %s was already sent", entry.message_id, mask(entry.to))
            self._mark_sent(entry_id, entry, sid)
        else:
            self._send(entry_id, entry, stale=stamp)

    def _send(self, entry_id: str, entry: Entry, *, stale: str | None = None) -> None:
        self._wait_for_slot()
        # The mark is the lock: while this consumer waited for a send slot, another may have
        # claimed the entry (it looked idle) and be sending it now. Only the mark's taker sends.
        # A takeover (after reconciling a dead owner's attempt) swaps the stale mark it read,
        # and only that one: two reclaimers can't both take over.
        mark, stamp = keys.outbox_sending(entry.message_id), repr(self.clock())
        if stale is None:
            taken = self.redis.set(mark, stamp, ex=WEEK, nx=True)
        else:
            taken = self.redis.eval(_SWAP_MARK, 1, mark, stale, stamp, WEEK)
        if not taken:
            log.info("outbox: %s is being sent by another worker", entry.message_id)
            return
        if self.redis.exists(keys.outbox_sent(entry.message_id)):  # ...or was, meanwhile
            self.redis.delete(mark)
            self._finish(entry_id)
            return
        try:
            result = self.sender.send(entry.to, entry.body)
        except TransientSendError:
            self._retry(entry_id, entry)
            return
        if result.permanent or not result.sid:
            self._dead(entry_id, entry, result)
        else:
            self._mark_sent(entry_id, entry, result.sid)

    def _wait_for_slot(self) -> None:
        if self.rate is None:
            return
        while (wait := self.rate.acquire(self.sender_key, self.clock())) > 0:
            self.sleep(wait)

    # --- outcomes: each one transaction, ending with the ack ---
    def _mark_sent(self, entry_id: str, entry: Entry, sid: str) -> None:
        pipe = self._pipeline()
        pipe.set(keys.outbox_sent(entry.message_id), sid, ex=RECORDS)
        pipe.delete(keys.outbox_sending(entry.message_id))
        # Kept so a 30003 status callback can re-send this very message once.
        info = {"message_id": entry.message_id, "kind": entry.kind, "to": entry.to,
                "body": entry.body}  # fmt: skip
        pipe.hset(keys.delivery(sid), mapping=info)
        pipe.expire(keys.delivery(sid), RECORDS)
        self._finish(entry_id, pipe)

    def _dead(self, entry_id: str, entry: Entry, result: SendResult | None) -> None:
        code = result.error_code if result else None
        reason = result.reason if result else "transient"
        log.warning("outbox: %s to %s failed for good: %s (%s)", entry.message_id,
                    mask(entry.to), reason, code)  # fmt: skip
        pipe = self._pipeline()
        if result is not None:
            mark_permanent(pipe, entry.to, code)
            pipe.delete(keys.outbox_sending(entry.message_id))
        dead = {**entry.fields(), "error_code": str(code or ""), "reason": reason or "",
                "at": repr(self.clock())}  # fmt: skip
        pipe.xadd(keys.OUTBOX_DEAD, dead, minid=self._dead_horizon(), approximate=True)
        self._finish(entry_id, pipe)
        if result is not None and self.on_permanent is not None:
            self.on_permanent(entry.to, code)

    def _dead_horizon(self) -> str:
        """Dead letters hold message bodies: keep them DEAD_LETTER_DAYS for a human, then trim.
        Stream ids come from the Redis server's clock, so the horizon does too."""
        seconds, _micros = self.redis.time()
        return f"{max(0, int(seconds) - DEAD_LETTER_DAYS * 86400) * 1000}-0"

    def _poison(self, entry_id: str, fields: Fields) -> None:
        """An entry that cannot be read would fail forever: set it aside instead."""
        log.error("outbox: unreadable entry %s set aside", entry_id)
        pipe = self._pipeline()
        raw = {keys.text(k): keys.text(v) for k, v in fields.items()}
        pipe.xadd(
            keys.OUTBOX_DEAD,
            {**raw, "reason": "unreadable"},
            minid=self._dead_horizon(),
            approximate=True,
        )
        self._finish(entry_id, pipe)

    def _retry(self, entry_id: str, entry: Entry) -> None:
        """Transient failure: back off (the `sending` mark stays, so the retry reconciles)."""
        attempt = entry.attempt + 1
        if attempt >= self.max_attempts:
            self._dead(entry_id, entry, None)
            return
        later = replace(entry, not_before=None, attempt=attempt)  # keeps its deadline
        self._park(entry_id, later, self.clock() + min(1800.0, 15.0 * 2.0**entry.attempt))

    def _park(self, entry_id: str, entry: Entry, when: float) -> None:
        pipe = self._pipeline()
        member = json.dumps(dict(sorted(entry.fields().items())))
        pipe.zadd(keys.OUTBOX_DELAYED, {member: when})
        self._finish(entry_id, pipe)

    def _pipeline(self) -> Any:
        return self.redis.pipeline()  # a MULTI/EXEC transaction

    def _finish(self, entry_id: str, pipe: Any = None) -> None:
        """Ack and delete (the stream only holds work not yet done), with `pipe`'s writes."""
        pipe = pipe if pipe is not None else self._pipeline()
        pipe.xack(keys.OUTBOX, keys.OUTBOX_GROUP, entry_id)
        pipe.xdel(keys.OUTBOX, entry_id)
        pipe.execute()


def drain(consumer: OutboxConsumer, rounds: int = 100) -> int:
    """Run until a batch finds nothing (tests and the embedded mode)."""
    total = 0
    for _ in range(rounds):
        handled = consumer.run_once()
        total += handled
        if not handled:
            break
    return total
