"""Who can be texted: opt-outs, and the marks Twilio's failure codes leave on a number (ended
after their lifetime by the retention sweep, bot.retention)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot import keys

OPTED_OUT_CODE = 21610
UNREACHABLE_CODES = frozenset({21211, 21614, 30005, 30006})


def bare(to: str) -> str:
    """The number as stored in the opt-out set and the marks (no channel prefix)."""
    return to.removeprefix("whatsapp:")


def mark_refused(pipe: Any, to: str, code: int | None, *, staff: bool, now: float) -> None:
    """Remember a permanent refusal. A patient's 21610 is their STOP, kept until START; a staff
    number only ever gets an unreachable mark, which ends (alerts to it are re-routed meanwhile,
    never dropped)."""
    number = bare(to)
    if code == OPTED_OUT_CODE and not staff:
        pipe.sadd(keys.OPTED_OUT, number)
    elif code == OPTED_OUT_CODE or code in UNREACHABLE_CODES:
        pipe.hset(keys.UNREACHABLE, number, str(code))
        pipe.zadd(keys.UNREACHABLE_AT, {number: now})  # its lifetime counts from the latest


def refusals(client: Any, numbers: Iterable[str]) -> dict[str, str]:
    """number -> why it cannot be texted now ("opted_out" or the Twilio code), for those that
    cannot; one round trip."""
    wanted = [bare(n) for n in numbers]
    if not wanted:
        return {}
    pipe = client.pipeline(transaction=False)
    for number in wanted:
        pipe.sismember(keys.OPTED_OUT, number)
        pipe.hget(keys.UNREACHABLE, number)
    answers = pipe.execute()
    found: dict[str, str] = {}
    for number, opted, code in zip(wanted, answers[::2], answers[1::2], strict=True):
        if opted:
            found[number] = "opted_out"
        elif code is not None:
            found[number] = keys.text(code)
    return found


def restore(client: Any, number: str) -> bool:
    """A number texted START: forget every refusal on it. True if there was one."""
    pipe = client.pipeline()
    pipe.srem(keys.OPTED_OUT, bare(number))
    pipe.hdel(keys.UNREACHABLE, bare(number))
    pipe.zrem(keys.UNREACHABLE_AT, bare(number))
    removed, deleted, _ = pipe.execute()
    return bool(removed or deleted)
