"""Erasure of one number (`bot forget`): a plan of removals matching whole values only, then
applying it; the AOF and snapshot are rewritten so the data leaves the disk too."""

from __future__ import annotations

import itertools
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import redis

from bot import keys

log = logging.getLogger(__name__)
STREAM_PAGE = 1000
SUBJECT_FIELDS = frozenset({"phone", "to"})  # a record hash whose subject is in one of these
WHOLE_KEY = ()


@dataclass(frozen=True)
class Removal:
    """A key to delete (no items), or the items (fields, members, entries) to take out of it."""

    key: str
    kind: str  # string | hash | set | zset | stream | list
    items: tuple[str, ...] = WHOLE_KEY

    def describe(self, phone: str) -> str:
        shown = self.key.replace(phone, f"...{phone[-4:]}")
        if not self.items:
            return f"delete {self.kind} {shown}"
        what = {"hash": "field", "stream": "entry", "list": "item"}.get(self.kind, "member")
        return f"remove {len(self.items)} {what}(s) from {self.kind} {shown}"


def forget(client: Any, phone: str, *, dry_run: bool = False,
           named: tuple[str, ...] = ()) -> list[Removal]:  # fmt: skip
    """Plan (and unless dry_run, apply) the removal of everything stored about one number:
    whole keys only when they are that person's (also `named`: keys that stand for the number
    without naming it), otherwise just their fields, members and entries in shared structures."""
    plan = [Removal(k, keys.text(client.type(k))) for k in named if client.exists(k)]
    plan += _index_removals(client, phone)
    plan += sweep(client, phone, plan)  # what no index leads to (outbox, caches)
    if not dry_run:
        apply(client, plan)
    return plan


def _id_removals(client: Any, phone: str) -> list[Removal]:
    """The id mapping, reminder jobs and sent marks of a number."""
    found = client.hget(keys.PATIENT_IDS, phone)
    if found is None:
        return []
    patient_id = keys.text(found)
    jobs = (keys.reminder_job(patient_id), keys.reminder_retry_job(patient_id))
    marks = client.scan_iter(match=keys.reminder_sent_pattern(patient_id))
    return [
        Removal(keys.PATIENT_IDS, "hash", (phone,)),
        Removal(keys.PATIENT_PHONES, "hash", (patient_id,)),
        Removal(keys.APS_JOBS, "hash", jobs),
        Removal(keys.APS_RUN_TIMES, "zset", jobs),
        *(Removal(keys.text(k), "string") for k in marks),
    ]


def _index_removals(client: Any, phone: str) -> list[Removal]:
    """Everything the indexes lead to: the person's own keys and their items in shared ones."""
    r = client
    record_ids = tuple(keys.text(i) for i in r.smembers(keys.triages_of(phone)))
    refs = tuple(keys.text(i) for i in r.smembers(keys.alerts_of(phone)))
    own = [k for k in keys.keys_of(phone) if r.exists(k)]
    plan = [Removal(k, keys.text(r.type(k))) for k in own]
    plan += [Removal(keys.triage(i), "string") for i in record_ids]
    plan += [Removal(keys.alert(ref), "hash") for ref in refs]
    timers = tuple(f"{ref}|{stage}" for ref in refs for stage in ("resend", "backup"))
    items = [(keys.TRIAGES, "zset", record_ids), (keys.ALERTS, "zset", refs),
             (keys.ALERTS_OPEN, "set", refs), (keys.ALERT_TIMERS, "zset", timers),
             *_marks_of(client, phone)]  # fmt: skip
    plan += [Removal(key, kind, found) for key, kind, found in items if found]
    return [*plan, *_id_removals(client, phone)]


def _marks_of(client: Any, phone: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """The number's members of the shared sets of numbers, where it is one."""
    marks = [(keys.PATIENTS, "set"), (keys.OPTED_OUT, "set"), (keys.OPTED_OUT_AT, "zset"),
             (keys.UNREACHABLE, "hash"), (keys.UNREACHABLE_AT, "zset")]  # fmt: skip
    pipe = client.pipeline(transaction=False)
    for key, kind in marks:
        {"set": pipe.sismember, "zset": pipe.zscore, "hash": pipe.hexists}[kind](key, phone)
    found = pipe.execute()
    return [(key, kind, (phone,)) for (key, kind), hit in zip(marks, found, strict=True)
            if hit not in (None, False, 0)]  # fmt: skip


def mentions(phone: str) -> re.Pattern[str]:
    """The number as a whole token: '+19495551234' never matches inside '+919495551234'."""
    return re.compile(rf"(?<![\d+]){re.escape(phone)}(?!\d)")


def sweep(client: Any, phone: str, planned: Iterable[Removal]) -> list[Removal]:
    """What no index leads to (outbox entries, delivery records, reply caches, dead letters):
    O(keyspace), fine for a rare admin command. Shared structures (the constants of keys.py)
    only ever lose the person's items; a per-record key that names the number goes whole."""
    pattern = mentions(phone)
    known = {r.key for r in planned}  # the indexes already found the person's part of these
    found: list[Removal] = []
    for raw in client.scan_iter(match=f"{keys.PREFIX}*", count=1000):
        key = keys.text(raw)
        if key in known:
            continue
        try:
            found.extend(_sweep_key(client, key, pattern))
        except (UnicodeDecodeError, redis.ResponseError):
            continue  # binary values (pickled scheduler jobs) are reached through the indexes
    return found


def _sweep_key(client: Any, key: str, pattern: re.Pattern[str]) -> Iterator[Removal]:
    shared = key in keys.SHARED
    kind = keys.text(client.type(key))
    if not shared and any(pattern.fullmatch(part) for part in _segments(key)):
        yield Removal(key, kind)
        return
    items = _matching_items(client, key, kind, pattern)
    if not items:
        return
    if shared or kind in ("set", "zset", "stream"):
        yield Removal(key, kind, tuple(items))
    elif kind == "hash" and not set(items) & SUBJECT_FIELDS:
        # Someone else's record that merely names the number (staff who claimed an alert):
        # only those fields go.
        yield Removal(key, kind, tuple(items))
    else:
        yield Removal(key, kind)  # a record about the person (an alert, a delivery, a transcript)


def _segments(key: str) -> list[str]:
    """'bot:outbox:sent:alert:REF:+1949...:initial' -> its parts, 'whatsapp:+1...' rejoined."""
    parts = key.split(":")
    return [*parts, *(f"{a}:{b}" for a, b in itertools.pairwise(parts))]


def _matching_items(client: Any, key: str, kind: str, pattern: re.Pattern[str]) -> list[str]:
    hit = pattern.search
    if kind == "string":
        value = client.get(key)
        return [key] if value is not None and hit(keys.text(value)) else []
    if kind == "hash":
        return [f for f, v in client.hgetall(key).items() if hit(f) or hit(v)]
    if kind == "set":
        return [m for m in client.smembers(key) if hit(m)]
    if kind == "zset":
        return [m for m in client.zrange(key, 0, -1) if hit(m)]
    if kind == "list":
        return [item for item in client.lrange(key, 0, -1) if hit(item)]
    if kind == "stream":
        return list(_stream_entries(client, key, pattern))
    return []


def _stream_entries(client: Any, key: str, pattern: re.Pattern[str]) -> Iterator[str]:
    """Pending outbox entries too: a consumer that claims a deleted entry just acks it."""
    start = "-"
    while True:
        page = client.xrange(key, min=start, count=STREAM_PAGE)
        yield from (eid for eid, fields in page if pattern.search(json.dumps(fields)))
        if len(page) < STREAM_PAGE:
            return
        start = f"({page[-1][0]}"


def apply(client: Any, removals: Iterable[Removal]) -> int:
    """Carry out a plan; returns how many whole keys were deleted."""
    pipe = client.pipeline(transaction=False)
    deleted = 0
    for r in removals:
        if not r.items:
            pipe.delete(r.key)
            deleted += 1
        elif r.kind == "hash":
            pipe.hdel(r.key, *r.items)
        elif r.kind == "set":
            pipe.srem(r.key, *r.items)
        elif r.kind == "zset":
            pipe.zrem(r.key, *r.items)
        elif r.kind == "stream":
            pipe.xdel(r.key, *r.items)
        elif r.kind == "list":
            for item in r.items:
                pipe.lrem(r.key, 0, item)
    pipe.execute()
    return deleted


def rewrite_files(client: Any) -> str:
    """Erased data must leave the disk too: rewrite the AOF (and the RDB snapshot) now."""
    try:
        info = client.info("persistence")
    except redis.ResponseError:
        return "persistence unknown (INFO refused); rewrite the AOF by hand: BGREWRITEAOF"
    done = []
    try:
        if int(info.get("aof_enabled", 0)):
            client.bgrewriteaof()
            done.append("AOF rewrite started")
        if int(info.get("rdb_last_save_time", 0)) and _saves(client):
            client.bgsave()
            done.append("RDB snapshot started")
    except redis.ResponseError as err:  # a rewrite already running: it snapshots the new state
        done.append(f"rewrite not started ({err}); run BGREWRITEAOF when it finishes")
    return "; ".join(done) or "no persistence files to rewrite"


def _saves(client: Any) -> bool:
    try:
        return bool(client.config_get("save").get("save"))
    except redis.ResponseError:
        return True  # CONFIG disabled (managed Redis): snapshot to be safe
