"""Retention: index entries, id maps and scheduler jobs go when their record expires;
opt-out and unreachable marks end after a documented lifetime."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from bot import keys

log = logging.getLogger(__name__)
SWEEP_EVERY = timedelta(hours=1)  # across all processes (a SET NX EX lock)
UNREACHABLE_LIFETIME = timedelta(days=90)  # numbers get fixed or reassigned: try again after
CHUNK = 500


class Retention:
    """Records expire by their own TTL; this sweep takes what pointed at them out of the shared
    indexes. Opt-outs last the retention period from the STOP (then the number is a stranger:
    the bot only ever texts a number that texted it first, or a web invite it answers)."""

    def __init__(self, client: Any, retention: timedelta) -> None:
        self.redis = client
        self.lifetimes = {keys.OPTED_OUT: retention, keys.UNREACHABLE: UNREACHABLE_LIFETIME}

    def tick(self, now: datetime) -> None:
        """At most one sweep per SWEEP_EVERY, whichever worker gets there first."""
        if self.redis.set(keys.RETENTION_LOCK, "1", nx=True, ex=SWEEP_EVERY):
            counts = self.sweep(now)
            if any(counts.values()):
                log.info("retention sweep: %s", counts)

    def sweep(self, now: datetime) -> dict[str, int]:
        return {
            "triages": self._index(keys.TRIAGES, "zset", keys.triage),
            "alerts": self._index(keys.ALERTS, "zset", keys.alert),
            "open alerts": self._index(keys.ALERTS_OPEN, "set", keys.alert),
            "alert timers": self._index(
                keys.ALERT_TIMERS, "zset", lambda m: keys.alert(m.split("|")[0])
            ),
            "patients": self._index(keys.PATIENTS, "set", keys.patient),
            "patient ids": self._patient_ids(),
            "opt-outs": self._marks(keys.OPTED_OUT, "set", keys.OPTED_OUT_AT, now),
            "unreachable": self._marks(keys.UNREACHABLE, "hash", keys.UNREACHABLE_AT, now),
        }

    def _members(self, key: str, kind: str) -> Iterator[list[str]]:
        scan = {"set": self.redis.sscan_iter, "zset": self.redis.zscan_iter,
                "hash": self.redis.hscan_iter}[kind]  # fmt: skip
        batch: list[str] = []
        for item in scan(key, count=CHUNK):
            batch.append(keys.text(item[0] if isinstance(item, tuple) else item))
            if len(batch) >= CHUNK:
                yield batch
                batch = []
        if batch:
            yield batch

    def _gone(self, names: Iterable[str]) -> list[bool]:
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.exists(name)
        return [not found for found in pipe.execute()]

    def _index(self, key: str, kind: str, record: Callable[[str], str]) -> int:
        """Members whose record expired leave the index."""
        removed = 0
        remove = self.redis.zrem if kind == "zset" else self.redis.srem
        for batch in list(self._members(key, kind)):
            dead = [
                m for m, gone in zip(batch, self._gone(map(record, batch)), strict=True) if gone
            ]
            if dead:
                removed += int(remove(key, *dead))
        return removed

    def _patient_ids(self) -> int:
        """A number whose record expired loses its id mapping and its reminder jobs."""
        removed = 0
        for numbers in list(self._members(keys.PATIENT_IDS, "hash")):
            gone = self._gone(keys.patient(n) for n in numbers)
            for number in (n for n, g in zip(numbers, gone, strict=True) if g):
                pid = self.redis.hget(keys.PATIENT_IDS, number)
                jobs = (keys.reminder_job(pid), keys.reminder_retry_job(pid)) if pid else ()
                pipe = self.redis.pipeline()
                pipe.hdel(keys.PATIENT_IDS, number)
                if pid:
                    pipe.hdel(keys.PATIENT_PHONES, pid)
                    pipe.hdel(keys.APS_JOBS, *jobs)
                    pipe.zrem(keys.APS_RUN_TIMES, *jobs)
                pipe.execute()
                removed += 1
        return removed

    def _marks(self, key: str, kind: str, stamps: str, now: datetime) -> int:
        """Stamp marks seen for the first time (set elsewhere, e.g. a carrier's 21610); end
        those older than their lifetime."""
        for batch in list(self._members(key, kind)):
            self.redis.zadd(stamps, {m: now.timestamp() for m in batch}, nx=True)
        cutoff = (now - self.lifetimes[key]).timestamp()
        expired = [keys.text(m) for m in self.redis.zrangebyscore(stamps, "-inf", cutoff)]
        if not expired:
            return 0
        pipe = self.redis.pipeline()
        (pipe.srem if kind == "set" else pipe.hdel)(key, *expired)
        pipe.zrem(stamps, *expired)
        pipe.execute()
        return len(expired)
