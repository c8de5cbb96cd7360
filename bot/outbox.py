"""The Redis Stream outbox: enqueueing into lanes, and the consumer that carries out decide()."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import redis

from bot import keys
from bot.core.sending import (
    LOOKUP_RETRY,
    SETTLE_SECONDS,
    Do,
    Entry,
    EntryState,
    Fields,
    Lane,
    Mark,
    MarkState,
    batch_size,
    decide,
)
from bot.outbox_lanes import LANES, Item, LaneReader, queued
from bot.outbox_records import Records
from bot.privacy import mask
from bot.ratelimit import RateLimiter
from bot.reach import bare
from bot.twilio_sender import AmbiguousSendError, Sender, SendResult, TransientSendError
from bot.writes import Writes

log = logging.getLogger(__name__)

__all__ = [
    "LANES",
    "Entry",
    "Lane",
    "OutboxConsumer",
    "bare",
    "drain",
    "enqueue",
    "queue",
    "queued",
]
WEEK = 7 * 24 * 3600  # enqueue dedupe and in-flight marks
RECONCILE_SKEW = 30.0  # seconds: our clock vs Twilio's date_created (whole seconds)
MAX_BACKOFF = 5.0  # seconds between reconnect attempts at most
HEARTBEAT_SECONDS = 10  # a worker silent this long is gone: its send marks may be taken over

_DROP_MARK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_SWAP_MARK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""
Undeliverable = Callable[[Entry, str], None]


def enqueue(client: redis.Redis, *, message_id: str, to: str, body: str, kind: str,
            not_before: float | None = None, not_after: float | None = None,
            lane: Lane = Lane.REST, content: str | None = None,
            alt: str | None = None) -> bool:  # fmt: skip
    """Add a message once per message_id (for 7 days); False if it was already enqueued."""
    writes = Writes()
    queue(writes, message_id=message_id, to=to, body=body, kind=kind, not_before=not_before,
          not_after=not_after, lane=lane, content=content, alt=alt)  # fmt: skip
    return writes.apply(client) == 1


def queue(writes: Any, *, message_id: str, to: str, body: str, kind: str,
          not_before: float | None = None, not_after: float | None = None,
          lane: Lane = Lane.REST, content: str | None = None,
          alt: str | None = None) -> None:  # fmt: skip
    """`enqueue` as part of a batch: dedupe mark and stream entry are written together, or
    neither is (the mark alone would lose the message). Staff alerts pass their lane; a
    WhatsApp message may carry its template (`content`) and fallback routes (`alt`)."""
    entry = Entry(message_id, to, body, kind, not_before, not_after=not_after, lane=lane,
                  content=content, alt=alt)  # fmt: skip
    stream = keys.outbox_stream(lane)
    writes.enqueue_once(keys.outbox_enqueued(message_id), WEEK, stream, entry.fields())


class OutboxConsumer:
    """One member of the `senders` group: serves the lanes in order, one decision per entry."""

    def __init__(self, client: redis.Redis, sender: Sender, *, consumer_name: str,
                 is_opted_out: Callable[[str], bool] | None = None,
                 on_permanent: Callable[[str, int | None], None] | None = None,
                 on_undeliverable: Undeliverable | None = None,
                 staff: frozenset[str] = frozenset(),
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep,
                 rate: float | RateLimiter | None = 1.0, sender_key: str = "default",
                 claim_idle_ms: int = 30_000, block_ms: int = 1000, batch: int | None = None,
                 max_attempts: int = 8, settle: float = SETTLE_SECONDS) -> None:  # fmt: skip
        self.redis = client
        self.sender = sender
        self.name = consumer_name
        self.is_opted_out = is_opted_out
        self.on_permanent = on_permanent
        self.on_undeliverable = on_undeliverable
        self.clock = clock
        self.sleep = sleep
        self.rate = RateLimiter(client, rate) if isinstance(rate, int | float) else rate
        if batch is None:
            per_second = None if self.rate is None else 1 / self.rate.interval
            batch = batch_size(per_second, claim_idle_ms / 1000)
        self.sender_key = sender_key
        self.settle = settle
        self.records = Records(client, staff, clock, max_attempts)
        self.lanes = LaneReader(client, consumer_name, claim_idle_ms, batch, block_ms)
        self._in_hand: tuple[str, str] | None = None  # (stream, entry id) being sent
        # WhatsApp (bot.whatsapp.Outreach.reroute): the next route for a send refused as outside
        # the 24-hour window, or None.
        self.reroute: Callable[[Entry, SendResult], Entry | None] | None = None

    # --- the loop ---
    def run_forever(self, stop: threading.Event) -> None:
        beat = threading.Thread(target=self._beat_until, args=(stop,), name="outbox-heartbeat",
                                daemon=True)  # fmt: skip
        beat.start()
        backoff = 0.0  # seconds; grows while Redis is unreachable, so an outage is not a storm
        while not stop.is_set():
            try:
                self.run_once()
            except (redis.ConnectionError, redis.TimeoutError):
                if not backoff:
                    log.warning("outbox: redis unreachable; reconnecting with backoff")
                backoff = min(MAX_BACKOFF, backoff * 2 or 0.25)
                self.lanes.ready = False
                stop.wait(backoff)
                continue
            except Exception:
                log.exception("outbox: batch failed")
                stop.wait(1.0)
            if backoff:
                log.info("outbox: redis reachable again")
                backoff = 0.0

    def _beat_until(self, stop: threading.Event) -> None:
        """Ownership stays fresh while this worker waits for a slot or for Twilio's answer."""
        while not stop.wait(HEARTBEAT_SECONDS / 3):
            with contextlib.suppress(redis.RedisError):  # the loop reports outages
                self.heartbeat()

    def heartbeat(self) -> None:
        self.redis.set(keys.outbox_alive(self.name), "1", ex=HEARTBEAT_SECONDS)

    def run_once(self) -> int:
        """One pass: the first lane with work, highest first; the number of entries handled."""
        self.lanes.ensure_group()
        self.heartbeat()
        self.records.promote_due()
        return self._handle_all(self.lanes.next_batch())

    def _handle_all(self, entries: list[Item]) -> int:
        for stream, entry_id, fields in entries:
            self._handle(stream, entry_id, fields)
        return len(entries)

    # --- one message: read its state, decide, carry the decision out ---
    def _handle(self, stream: str, entry_id: str, fields: Fields | None) -> None:
        self._in_hand = (stream, entry_id)
        try:
            self._handle_entry(stream, entry_id, fields)
        finally:
            self._in_hand = None

    def _handle_entry(self, stream: str, entry_id: str, fields: Fields | None) -> None:
        finish = self.records.finisher(stream, entry_id)
        if not fields:  # deleted while pending (bot forget): nothing left to send
            finish()
            return
        try:
            entry = Entry.from_fields(fields)
        except (KeyError, ValueError):
            self.records.poison(finish, fields)
            return
        state, raw_mark = self._state(entry)
        now = self.clock()
        action = decide(entry, state, now, self.name, self.settle)
        if action.do is Do.LEAVE:
            return  # its live owner acks it
        if action.do is Do.FINISH:
            finish()
        elif action.do is Do.REROUTE:
            self._undeliverable(entry, "cannot be reached (opted out or refused)")
            finish()
        elif action.do is Do.DROP:
            log.info("outbox: %s dropped: its quiet hours began", entry.message_id)
            finish()
        elif action.do is Do.PARK:
            self.records.park(finish, entry, action.at or now)
        elif action.do is Do.RECONCILE:
            self._reconcile(finish, entry, raw_mark or "", state.mark)
        else:
            self._send(finish, entry, stale=None)

    def _state(self, entry: Entry) -> tuple[EntryState, str | None]:
        """(sent, blocked, mark, owner alive) in two round trips."""
        number = bare(entry.to)
        pipe = self.redis.pipeline(transaction=False)
        pipe.exists(keys.outbox_sent(entry.message_id))
        pipe.sismember(keys.OPTED_OUT, number)
        pipe.hexists(keys.UNREACHABLE, number)
        pipe.get(keys.outbox_sending(entry.message_id))
        sent, opted_out, unreachable, raw = pipe.execute()
        blocked = bool(opted_out or unreachable)
        if not blocked and self.is_opted_out is not None:
            blocked = self.is_opted_out(number)
        raw = None if raw is None else keys.text(raw)
        mark = None if raw is None else Mark.load(raw)
        alive = bool(mark and mark.owner and self.redis.exists(keys.outbox_alive(mark.owner)))
        return EntryState(bool(sent), blocked, mark, alive), raw

    def _reconcile(self, finish: Any, entry: Entry, raw: str, mark: Mark | None) -> None:
        """A send of unknown outcome: ask Twilio, page back to the send time; a failed look-up
        waits and asks again, it never re-sends."""
        since = (mark.at if mark else self.clock()) - RECONCILE_SKEW
        try:
            sid = self._find_any(entry, since)
        except TransientSendError as exc:
            log.warning("outbox: look-up for %s failed (%s); asking again later",
                        entry.message_id, exc)  # fmt: skip
            self.records.park(finish, entry, self.clock() + LOOKUP_RETRY)
            return
        if sid:
            log.info("outbox: %s to %s was already sent", entry.message_id, mask(entry.to))
            self.records.sent(finish, entry, sid)
        else:
            self._send(finish, entry, stale=raw)

    def _find_any(self, entry: Entry, since: float) -> str | None:
        """The entry's SID in Twilio's log, by its own route or one it was rerouted to."""
        candidate: Entry | None = entry
        while candidate is not None:
            if sid := self.sender.find_sent(candidate.to, candidate.body, since):
                return sid
            candidate = candidate.next_route()
        return None

    def _send(self, finish: Any, entry: Entry, *, stale: str | None) -> None:
        self._wait_for_slot(entry.lane)
        # The mark is the lock: only its taker sends. A takeover swaps exactly the mark it
        # reconciled (compare-and-set), so two reclaimers can't both take over.
        key, mark = keys.outbox_sending(entry.message_id), Mark(self.name, self.clock())
        if stale is None:
            taken = self.redis.set(key, mark.dump(), ex=WEEK, nx=True)
        else:
            taken = self.redis.eval(_SWAP_MARK, 1, key, stale, mark.dump(), WEEK)
        if not taken:
            log.info("outbox: %s is being sent by another worker", entry.message_id)
            return
        if self.redis.exists(keys.outbox_sent(entry.message_id)):  # ...or was, meanwhile
            self.redis.delete(key)
            finish()
            return
        try:
            result = self._deliver(entry)
        except AmbiguousSendError as exc:
            log.warning("outbox: %s to %s: outcome unknown (%s); reconciling later",
                        entry.message_id, mask(entry.to), exc)  # fmt: skip
            unknown = replace(mark, state=MarkState.UNKNOWN).dump()
            self.redis.eval(_SWAP_MARK, 1, key, mark.dump(), unknown, WEEK)
            self.records.retry(finish, entry, mark.at + self.settle, self._undeliverable)
            return
        except TransientSendError:  # provably never reached Twilio: nothing to reconcile
            self.redis.eval(_DROP_MARK, 1, key, mark.dump())
            self.records.retry(finish, entry, None, self._undeliverable)
            return
        following = self.reroute(entry, result) if self.reroute and not result.sid else None
        if following is not None:
            self.redis.eval(_DROP_MARK, 1, key, mark.dump())  # nothing went out: send afresh
            self._send(finish, following, stale=None)
            return
        if result.permanent or not result.sid:
            self.records.dead(finish, entry, result, self._undeliverable)
            if self.on_permanent is not None:
                self.on_permanent(entry.to, result.error_code)
        else:
            self.records.sent(finish, entry, result.sid)

    def _deliver(self, entry: Entry) -> SendResult:
        """A template send when the entry carries one and the sender can (the console and
        simulator senders print the template's text instead)."""
        send_content = getattr(self.sender, "send_content", None)
        if entry.content and send_content is not None:
            result: SendResult = send_content(entry.to, entry.content, entry.body)
            return result
        return self.sender.send(entry.to, entry.body)

    def _wait_for_slot(self, lane: Lane) -> None:
        """Wait for the shared send rate; what arrives meanwhile in a more urgent lane takes
        the slot first, so an emergency never waits behind a reminder held by any worker."""
        if self.rate is None:
            return
        while True:
            urgent = self.lanes.more_urgent_than(lane)
            if urgent:
                held, self._in_hand = self._in_hand, None
                self._handle_all(urgent)
                self._in_hand = held
                continue
            wait = self.rate.acquire(self.sender_key, self.clock())
            if wait <= 0:
                return
            self._keep_fresh()
            self.sleep(wait)

    def _keep_fresh(self) -> None:
        """Reset the entry's idle time so no other worker claims it while it waits its turn."""
        self.heartbeat()
        if self._in_hand is not None:
            stream, entry_id = self._in_hand
            self.redis.xclaim(stream, keys.OUTBOX_GROUP, self.name, 0, [entry_id], justid=True)

    def _undeliverable(self, entry: Entry, why: str) -> None:
        if entry.kind != "alert":
            return
        log.warning("outbox: staff alert %s to %s %s: re-routing it", entry.message_id,
                    mask(entry.to), why)  # fmt: skip
        if self.on_undeliverable is not None:
            self.on_undeliverable(entry, why)


def drain(consumer: OutboxConsumer, rounds: int = 100) -> int:
    """Run until a batch finds nothing (tests and the embedded mode)."""
    total = 0
    for _ in range(rounds):
        handled = consumer.run_once()
        total += handled
        if not handled:
            break
    return total
