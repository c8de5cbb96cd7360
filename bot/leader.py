"""The scheduler leader lock: one worker schedules at a time; a standby takes over when it dies."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import redis

from bot import keys

log = logging.getLogger(__name__)

# Renew and release only our own lock: after a pause longer than the TTL another worker may
# hold it, and a plain PEXPIRE or DEL would steal it back or drop theirs.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
Callback = Callable[[], None]


def _nothing() -> None:
    pass


class LeaderLock:
    """SET NX PX with a random token; renewed every ttl/4 by `run`'s thread."""

    def __init__(self, client: Any, *, ttl: float = 10.0, key: str = keys.SCHEDULER_LEADER,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.redis = client
        self.ttl = ttl
        self.key = key
        self.clock = clock
        self.token = secrets.token_hex(16)
        self.interval = ttl / 4
        self._valid_until = 0.0  # by our own clock: we stop acting before Redis expires the key

    @property
    def is_leader(self) -> bool:
        return self.clock() < self._valid_until

    def try_acquire(self) -> bool:
        """Take the lock if free, or renew it if ours; True while we hold it."""
        started = self.clock()
        ttl_ms = int(self.ttl * 1000)
        held = bool(self.redis.set(self.key, self.token, nx=True, px=ttl_ms)) or bool(
            self.redis.eval(_RENEW, 1, self.key, self.token, ttl_ms)
        )
        # Counted from before the call, and a little short, so we never outlive the key.
        self._valid_until = started + self.ttl * 0.9 if held else 0.0
        return held

    def release(self) -> bool:
        """Compare-and-delete: a clean shutdown hands over at once instead of after the TTL."""
        self._valid_until = 0.0
        return bool(self.redis.eval(_RELEASE, 1, self.key, self.token))

    def run(self, stop: threading.Event, *, on_elected: Callback = _nothing,
            on_lost: Callback = _nothing, on_beat: Callback = _nothing) -> None:  # fmt: skip
        """Acquire or renew every ttl/4 until `stop`; the callbacks run on this thread."""
        leading = False
        while not stop.is_set():
            try:
                self.try_acquire()
            except redis.RedisError:
                log.warning("leader lock: redis unreachable")
            if self.is_leader != leading:
                leading = self.is_leader
                log.info("scheduler leadership %s", "taken" if leading else "lost")
                _safely(on_elected if leading else on_lost)
            if leading:
                _safely(on_beat)
            stop.wait(self.interval)
        if leading:
            _safely(on_lost)

    def start(self, stop: threading.Event, **callbacks: Callback) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(stop,), kwargs=callbacks,
                                  name="leader", daemon=True)  # fmt: skip
        thread.start()
        return thread


def _safely(callback: Callback) -> None:
    try:
        callback()
    except Exception:
        log.exception("leader lock callback failed")
