"""Twilio's delivery status callbacks: forward-only statuses and what each failure code does."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import redis

from bot import keys, reach
from bot.outbox_records import RECORDS

log = logging.getLogger(__name__)
STATUS_RANK = {"accepted": 0, "scheduled": 0, "queued": 1, "sending": 2, "sent": 3,
               "delivered": 4, "undelivered": 4, "failed": 4, "canceled": 4, "read": 5}  # fmt: skip

# Only ever moves forward: a late "sent" never overwrites "delivered"; duplicates do nothing.
_RECORD_STATUS = """
local current = tonumber(redis.call('HGET', KEYS[1], 'rank') or '-1')
if tonumber(ARGV[1]) <= current then return 0 end
redis.call('HSET', KEYS[1], 'rank', ARGV[1], 'status', ARGV[2], 'error_code', ARGV[3],
           'to', ARGV[4], 'updated', ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[6])
return 1
"""


class StatusAction(StrEnum):
    NOTHING = "nothing"
    RETRY_LATER = "retry_later"  # 30003: handset off or unreachable for now: once, later
    MARK_UNREACHABLE = "mark_unreachable"  # 30005 unknown number, 30006 landline
    GIVE_UP = "give_up"  # 30007 (carrier filtering) and every other failure: never re-sent


@dataclass(frozen=True)
class RetryRequest:
    """What to enqueue again (its message_id already marks it as the one retry)."""

    message_id: str
    to: str
    body: str
    kind: str
    content: str | None = None  # a WhatsApp template send stays one (bot.whatsapp)
    alt: str | None = None


def record_status(client: redis.Redis, message_sid: str, status: str, error_code: int | None,
                  to: str, *, now: float | None = None) -> bool:  # fmt: skip
    """Store a status if it moves the message forward; True if it did."""
    rank = STATUS_RANK.get(status)
    if rank is None:
        return False
    stamp = repr(time.time() if now is None else now)
    args = (rank, status, "" if error_code is None else str(error_code), to, stamp, RECORDS)
    return bool(client.eval(_RECORD_STATUS, 1, keys.delivery(message_sid), *args))


def status_policy(status: str, error_code: int | None) -> StatusAction:
    if status not in {"undelivered", "failed"}:
        return StatusAction.NOTHING
    if error_code == 30003:
        return StatusAction.RETRY_LATER
    if error_code in {30005, 30006}:
        return StatusAction.MARK_UNREACHABLE
    return StatusAction.GIVE_UP


def apply_status(client: redis.Redis, *, message_sid: str, status: str, error_code: int | None,
                 retry_later: Callable[[RetryRequest], None] | None = None,
                 staff: frozenset[str] = frozenset(),
                 failed_alert: Callable[[RetryRequest], None] | None = None,
                 now: float | None = None) -> StatusAction:  # fmt: skip
    """Record a status callback and act on it once; what the webhook route calls. Only for a
    message we sent (its delivery record), and only about the recipient stored there: a signed
    callback for anyone else's message id changes nothing."""
    info = _sent_record(client, message_sid)
    if info is None:
        log.info("status callback for a message id we did not send: ignored")
        return StatusAction.NOTHING
    to = info["to"]
    if not record_status(client, message_sid, status, error_code, to, now=now):
        return StatusAction.NOTHING  # stale or repeated: acted on already
    action = status_policy(status, error_code)
    if action is not StatusAction.NOTHING and info.get("kind") == "alert" and failed_alert:
        failed_alert(RetryRequest(info["message_id"], to, info.get("body", ""), "alert"))
    if action is StatusAction.MARK_UNREACHABLE:
        reach.mark_refused(client, to, error_code, staff=reach.bare(to) in staff,
                          now=time.time() if now is None else now)  # fmt: skip
    elif action is StatusAction.RETRY_LATER:
        request = _retry_request(info)
        if request is None:
            return StatusAction.GIVE_UP
        if retry_later is not None:
            retry_later(request)
    return action


def _sent_record(client: redis.Redis, message_sid: str) -> dict[str, str] | None:
    raw = client.hgetall(keys.delivery(message_sid))
    info = {keys.text(k): keys.text(v) for k, v in raw.items()}
    return info if info.get("message_id") and info.get("to") else None


def _retry_request(info: dict[str, str]) -> RetryRequest | None:
    message_id = info["message_id"]
    if message_id.endswith(":retry") or "body" not in info:
        return None  # already the one retry
    return RetryRequest(f"{message_id}:retry", info["to"], info["body"], info.get("kind", ""),
                        info.get("content") or None, info.get("alt") or None)  # fmt: skip
