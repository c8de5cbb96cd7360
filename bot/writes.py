"""A batch of Redis writes, applied all together by one Lua script, optionally compare-and-set.

A patient's transaction (`Store.update`) reads the patient in one round trip, lets the pure
core decide, records the writes here and commits them in a second round trip: the script
first checks that what was read (the document, the opt-out flag, the MessageSid mark) is
unchanged and otherwise applies nothing, so the caller reads again. That is the optimistic
lock WATCH/MULTI/EXEC gives, in two round trips instead of three. Anything else that needs
several writes at once (an outbox message with its dedupe mark, an alert with its timers)
applies a batch without the check; inside MULTI/EXEC the script is simply queued.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from redis.commands.core import Script

# KEYS: the checked keys when ARGV[1] is 'check' (document, opt-out set, MessageSid mark),
# then each op's keys. ARGV: the mode, the expected values when checking, then per op:
# name, key count, argument count, arguments. ENQUEUE is the outbox's dedupe-then-append.
_APPLY = """
local unpack = table.unpack or unpack
local k, a = 1, 2
if ARGV[1] == 'check' then
  local doc = redis.call('GET', KEYS[1])
  if (doc or '') ~= ARGV[2] or (doc == false) ~= (ARGV[3] == '1') then return {0, 0} end
  if redis.call('SISMEMBER', KEYS[2], ARGV[4]) ~= tonumber(ARGV[5]) then return {0, 0} end
  k, a = 3, 7
  if ARGV[6] == '1' then
    if redis.call('EXISTS', KEYS[3]) == 1 then return {0, 0} end
    k = 4
  end
end
local added = 0
while a <= #ARGV do
  local op, nk, na = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  if op == 'ENQUEUE' then
    if redis.call('SET', KEYS[k], '1', 'NX', 'EX', ARGV[a + 3]) then
      redis.call('XADD', KEYS[k + 1], '*', unpack(ARGV, a + 4, a + 2 + na))
      added = added + 1
    end
  else
    redis.call(op, KEYS[k], unpack(ARGV, a + 3, a + 2 + na))
  end
  k, a = k + nk, a + 3 + na
end
return {1, added}
"""


def script(source: str) -> Script:
    """A Lua script run by its SHA (EVALSHA) on any client or pipeline, loaded on demand."""
    return Script(None, source.encode())  # type: ignore[arg-type]  # bytes need no client


APPLY = script(_APPLY)


MAX_ARGS = 7000  # Lua's unpack() stops near 8,000 values; one op must stay below it


def _text(value: object) -> str:
    """What redis-py would send for a value; anything else is a bug, as it is there."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to Redis: convert it to text first")


def _seconds(value: timedelta | int) -> str:
    return str(int(value.total_seconds()) if isinstance(value, timedelta) else int(value))


@dataclass(frozen=True)
class Expect:
    """What a patient's transaction read: the commit applies nothing if any of it changed."""

    key: str
    doc: str | None
    opted_key: str
    member: str
    opted: bool
    sid_key: str | None = None


class Writes:
    """Records writes with redis-py's method names, for the subset the bot's batches use."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.args: list[str] = []
        self.ops = 0

    def _op(self, name: str, keys: tuple[str, ...], *args: object) -> None:
        # Checked here, not in Redis: a script that fails halfway keeps its earlier writes.
        if len(args) > MAX_ARGS:
            raise ValueError(f"{name} with {len(args)} arguments: split it (at most {MAX_ARGS})")
        texts = [_text(arg) for arg in args]  # before anything is recorded
        self.keys.extend(keys)
        self.args.extend((name, str(len(keys)), str(len(texts)), *texts))
        self.ops += 1

    def set(
        self, key: str, value: object, *, ex: timedelta | int | None = None, nx: bool = False
    ) -> None:
        self._op("SET", (key,), value, *(("EX", _seconds(ex)) if ex is not None else ()),
                 *(("NX",) if nx else ()))  # fmt: skip

    def sadd(self, key: str, *members: object) -> None:
        if members:  # an empty one is an error in Redis
            self._op("SADD", (key,), *members)

    def srem(self, key: str, *members: object) -> None:
        if members:  # an empty one is an error in Redis
            self._op("SREM", (key,), *members)

    def zadd(self, key: str, mapping: Mapping[str, float]) -> None:
        if mapping:
            self._op("ZADD", (key,), *(x for m, score in mapping.items() for x in (score, m)))

    def zrem(self, key: str, *members: object) -> None:
        if members:  # an empty one is an error in Redis
            self._op("ZREM", (key,), *members)

    def hset(self, key: str, field: str | None = None, value: object = None, *,
             mapping: Mapping[str, object] | None = None) -> None:  # fmt: skip
        pairs = dict(mapping or {})
        if field is not None:
            pairs[field] = value
        if pairs:
            self._op("HSET", (key,), *(x for pair in pairs.items() for x in pair))

    def rpush(self, key: str, *values: object) -> None:
        if values:
            self._op("RPUSH", (key,), *values)

    def ltrim(self, key: str, start: int, end: int) -> None:
        self._op("LTRIM", (key,), start, end)

    def delete(self, *names: str) -> None:
        if names:
            self._op("DEL", names)

    def hincrby(self, key: str, field: str, amount: int = 1) -> None:
        self._op("HINCRBY", (key,), field, amount)

    def expire(self, key: str, time: timedelta | int) -> None:
        self._op("EXPIRE", (key,), _seconds(time))

    def enqueue_once(self, dedupe_key: str, ttl: int, stream: str, fields: Mapping[str, str]) -> None:  # fmt: skip
        """XADD to `stream` unless `dedupe_key` exists; sets it for `ttl` seconds."""
        self._op("ENQUEUE", (dedupe_key, stream), ttl, *(x for p in fields.items() for x in p))

    def apply(self, target: Any) -> int:
        """Apply everything at once on a client (returns how many messages were enqueued);
        on a pipeline it is queued like any other command (and returns 0)."""
        if not self.ops:
            return 0
        reply = APPLY(self.keys, ["apply", *self.args], client=target)
        return int(reply[1]) if isinstance(reply, list) else 0

    def commit(self, client: Any, expect: Expect) -> bool:
        """Apply only if nothing in `expect` changed since it was read; False means read again."""
        checked = [expect.key, expect.opted_key, *([expect.sid_key] if expect.sid_key else [])]
        header = ["check", expect.doc or "", "1" if expect.doc is None else "0", expect.member,
                  "1" if expect.opted else "0", "1" if expect.sid_key else "0"]  # fmt: skip
        reply = APPLY([*checked, *self.keys], [*header, *self.args], client=client)
        return bool(int(reply[0]))
