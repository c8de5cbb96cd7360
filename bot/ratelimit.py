"""The send rate shared by every worker process: a GCRA limiter kept in Redis."""

from __future__ import annotations

import math
from typing import Any

from bot import keys

# GCRA: the key holds the theoretical arrival time (TAT) of the next allowed send. One atomic
# script so two workers can never both take the same slot; a refused call changes nothing.
_GCRA = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
if tat < now then tat = now end
local allow_at = tat - (burst - 1) * interval
if now < allow_at then
  return string.format('%.6f', allow_at - now)
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.6f', new_tat), 'PX', ARGV[4])
return '0'
"""


class RateLimiter:
    """`rate` sends per second (float: 0.5 = one every 2 s) per sender, shared through Redis."""

    def __init__(self, client: Any, rate: float = 1.0, burst: int = 1) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.redis = client
        self.interval = 1.0 / rate
        self.burst = burst

    def acquire(self, sender_key: str, now: float) -> float:
        """Take a send slot at `now` and return 0, or return the seconds to wait and take none."""
        # The key only matters while the TAT is ahead of the clock; let it expire after that.
        ttl_ms = max(1000, math.ceil(self.interval * self.burst * 1000) + 1000)
        args = (f"{now:.6f}", repr(self.interval), self.burst, ttl_ms)
        wait = self.redis.eval(_GCRA, 1, keys.send_rate(sender_key), *args)
        return float(wait.decode() if isinstance(wait, bytes) else wait)
