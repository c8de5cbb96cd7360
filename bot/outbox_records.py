"""The outbox's outcomes, each one transaction ending with the ack: sent, parked, dead, poison."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import redis

from bot import keys, reach
from bot.core.sending import Entry, Fields, Lane
from bot.privacy import mask
from bot.twilio_sender import SendResult
from bot.writes import Writes

log = logging.getLogger(__name__)
RECORDS = 2 * 24 * 3600  # sent marks and delivery records: status callbacks come within hours
DEAD_LETTER_DAYS = 30
Finish = Callable[..., None]
Undeliverable = Callable[[Entry, str], None]


class Records:
    """Writes what happened to one entry, together with its ack, in one MULTI/EXEC."""

    def __init__(self, client: redis.Redis, staff: frozenset[str], clock: Callable[[], float],
                 max_attempts: int) -> None:  # fmt: skip
        self.redis = client
        self.staff = staff
        self.clock = clock
        self.max_attempts = max_attempts

    @staticmethod
    def batch() -> Writes:
        return Writes()

    def finisher(self, stream: str, entry_id: str) -> Finish:
        """Ack and delete (a stream only holds work not yet done), with `pipe`'s writes."""

        def finish(pipe: Any = None) -> None:
            pipe = pipe if pipe is not None else self.redis.pipeline()
            pipe.xack(stream, keys.OUTBOX_GROUP, entry_id)
            pipe.xdel(stream, entry_id)
            pipe.execute()

        return finish

    def promote_due(self) -> None:
        """Move delayed entries whose time has come back into their lane, exactly once."""
        pipe: Any
        with self.redis.pipeline() as pipe:
            try:
                pipe.watch(keys.OUTBOX_DELAYED)
                due = pipe.zrangebyscore(keys.OUTBOX_DELAYED, "-inf", self.clock(), 0, 100)
                if not due:
                    return
                pipe.multi()
                for member in due:
                    fields = json.loads(member)
                    lane = int(fields.get("lane") or Lane.REST)
                    pipe.zrem(keys.OUTBOX_DELAYED, member)
                    pipe.xadd(keys.outbox_stream(lane), fields)
                pipe.execute()
            except redis.WatchError:
                pass  # another worker promoted them

    def sent(self, finish: Finish, entry: Entry, sid: str) -> None:
        pipe: Any = self.redis.pipeline()
        pipe.set(keys.outbox_sent(entry.message_id), sid, ex=RECORDS)
        pipe.delete(keys.outbox_sending(entry.message_id))
        # Status callbacks are acted on only for these records, with this recipient; a 30003
        # re-sends this very message once.
        info = {"message_id": entry.message_id, "kind": entry.kind, "to": entry.to,
                "body": entry.body, **entry.routing()}  # fmt: skip
        pipe.hset(keys.delivery(sid), mapping=info)
        pipe.expire(keys.delivery(sid), RECORDS)
        finish(pipe)

    def park(self, finish: Finish, entry: Entry, when: float) -> None:
        pipe: Any = self.redis.pipeline()
        member = json.dumps(dict(sorted(entry.fields().items())))
        pipe.zadd(keys.OUTBOX_DELAYED, {member: when})
        finish(pipe)

    def retry(self, finish: Finish, entry: Entry, when: float | None,
              undeliverable: Undeliverable) -> None:  # fmt: skip
        """Back off and try again (a kept mark makes the retry reconcile first)."""
        attempt = entry.attempt + 1
        if attempt >= self.max_attempts:
            self.dead(finish, entry, None, undeliverable)
            return
        later = replace(entry, not_before=None, attempt=attempt)  # keeps its deadline
        backoff = self.clock() + min(1800.0, 15.0 * 2.0**entry.attempt)
        self.park(finish, later, max(backoff, when or 0.0))

    def dead(self, finish: Finish, entry: Entry, result: SendResult | None,
             undeliverable: Undeliverable) -> None:  # fmt: skip
        code = result.error_code if result else None
        reason = result.reason if result else "transient"
        log.warning("outbox: %s to %s failed for good: %s (%s)", entry.message_id,
                    mask(entry.to), reason, code)  # fmt: skip
        pipe: Any = self.redis.pipeline()
        if result is not None:
            reach.mark_refused(pipe, entry.to, code, staff=reach.bare(entry.to) in self.staff,
                              now=self.clock())  # fmt: skip
            pipe.delete(keys.outbox_sending(entry.message_id))
        dead = {**entry.fields(), "error_code": str(code or ""), "reason": reason or "",
                "at": repr(self.clock())}  # fmt: skip
        pipe.xadd(keys.OUTBOX_DEAD, dead, minid=self._dead_horizon(), approximate=True)
        finish(pipe)
        undeliverable(entry, f"failed for good ({reason}, code {code})")

    def poison(self, finish: Finish, fields: Fields) -> None:
        """An entry that cannot be read would fail forever: set it aside instead."""
        log.error("outbox: an unreadable entry was set aside")
        pipe: Any = self.redis.pipeline()
        raw = {keys.text(k): keys.text(v) for k, v in fields.items()}
        pipe.xadd(keys.OUTBOX_DEAD, {**raw, "reason": "unreadable"},
                  minid=self._dead_horizon(), approximate=True)  # fmt: skip
        finish(pipe)

    def _dead_horizon(self) -> str:
        """Dead letters hold message bodies: keep them DEAD_LETTER_DAYS for a human, then trim.
        Stream ids come from the Redis server's clock, so the horizon does too."""
        seconds, _micros = self.redis.time()
        return f"{max(0, int(seconds) - DEAD_LETTER_DAYS * 86400) * 1000}-0"
