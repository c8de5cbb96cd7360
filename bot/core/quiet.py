"""The next instant a message may go out, given a person's zone and the allowed local hours."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


def next_allowed(after: datetime, zone: str, earliest: time, latest: time) -> datetime:
    """`after` itself when it is within [earliest, latest] local time, else the next opening."""
    local = after.astimezone(ZoneInfo(zone))
    if earliest <= local.time() <= latest:
        return after
    day = local.date() if local.time() < earliest else local.date() + timedelta(days=1)
    opening = datetime.combine(day, earliest, tzinfo=ZoneInfo(zone))
    return opening.astimezone(after.tzinfo)
