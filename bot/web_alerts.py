"""Alerts from web chats with no number to call back: caps per IP and per hour, then a digest."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bot import keys
from bot.config_schema import WebAlertCaps

HOUR = 3600
DIGEST_STAGE = "digest"

# One decision per session and level per hour, kept, so a retried transaction gets the same
# answer. A session counts towards the hour's overall cap only once its IP let it through.
_ADMIT = """
local decided = redis.call('HGET', KEYS[3], ARGV[1])
if decided then return tonumber(decided) end
local admit = 0
if redis.call('SCARD', KEYS[1]) < tonumber(ARGV[2])
   and redis.call('SCARD', KEYS[2]) < tonumber(ARGV[3]) then
  redis.call('SADD', KEYS[1], ARGV[1])
  redis.call('SADD', KEYS[2], ARGV[1])
  admit = 1
end
redis.call('HSET', KEYS[3], ARGV[1], admit)
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[4]) end
return admit
"""


def numberless(phone: str) -> bool:
    """An alert about a web visitor who gave no number: nobody can call them back."""
    return phone.startswith("web:")


def hour_slot(now: datetime) -> int:
    return int(now.timestamp()) // HOUR


class WebAlertGate:
    """Decides whether a numberless web alert pages staff or waits for the hour's digest."""

    def __init__(self, client: Any, caps: WebAlertCaps) -> None:
        self.redis = client
        self.caps = caps

    def admit(self, session: str, level: str, origin: str | None, now: datetime) -> bool:
        """True: page staff (once: it is never re-escalated). False: fold into the digest."""
        slot = hour_slot(now)
        ip = hashlib.sha256((origin or "unknown").encode()).hexdigest()[:16]
        args = (f"{session}|{level}", self.caps.per_ip_per_hour, self.caps.per_hour, 2 * HOUR)
        keys_ = (keys.web_alerts_ip(ip, slot), keys.web_alerts_hour(slot),
                 keys.web_alerts_decided(slot))  # fmt: skip
        return bool(self.redis.eval(_ADMIT, 3, *keys_, *args))

    def queue_fold(self, pipe: Any, ref: str, now: datetime) -> None:
        """Remember a folded alert for the digest sent when its hour is over."""
        slot = hour_slot(now)
        pipe.zadd(keys.web_alerts_folded(slot), {ref: now.timestamp()})
        pipe.expire(keys.web_alerts_folded(slot), 3 * HOUR)
        pipe.zadd(keys.WEB_ALERT_DIGESTS, {str(slot): float((slot + 1) * HOUR)})

    def folded(self, slot: int) -> list[str]:
        return [keys.text(r) for r in self.redis.zrange(keys.web_alerts_folded(slot), 0, -1)]


def level_summary(levels: Iterable[str]) -> str:
    """'3 emergency, 1 urgent': most frequent first."""
    return ", ".join(f"{n} {level}" for level, n in Counter(levels).most_common())
