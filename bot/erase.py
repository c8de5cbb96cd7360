"""`bot forget`'s last sweep: every bot key whose name or content still mentions a number."""

from __future__ import annotations

import json
import logging
from typing import Any

from bot import keys

log = logging.getLogger(__name__)
STREAM_PAGE = 1000


def sweep(client: Any, phone: str) -> int:
    """Remove what the indexes cannot reach (outbox entries, delivery hashes, reply caches,
    alerts to staff that name the patient). O(keyspace): fine for a rare admin command.
    Returns how many keys were deleted (entries and members removed are not counted)."""
    needle = phone.lstrip("+")  # also matches "whatsapp:+1..." and "+1..."
    deleted = 0
    for key in list(client.scan_iter(match=f"{keys.PREFIX}*", count=1000)):
        try:
            deleted += _sweep_key(client, str(key), needle)
        except UnicodeDecodeError:
            continue  # binary values (e.g. pickled scheduler jobs) never hold a number as text
    return deleted


def _sweep_key(client: Any, key: str, needle: str) -> int:
    if needle in key:
        return int(client.delete(key))
    kind = client.type(key)
    if kind == "string":
        value = client.get(key)
        return int(client.delete(key)) if value is not None and needle in value else 0
    if kind == "hash":
        return _sweep_hash(client, key, needle)
    if kind == "set":
        doomed = [m for m in client.smembers(key) if needle in m]
        if doomed:
            client.srem(key, *doomed)
    elif kind == "zset":
        doomed = [m for m in client.zrange(key, 0, -1) if needle in m]
        if doomed:
            client.zrem(key, *doomed)
    elif kind == "stream":
        _sweep_stream(client, key, needle)
    elif kind == "list" and any(needle in item for item in client.lrange(key, 0, -1)):
        return int(client.delete(key))  # a transcript that mentions the number is theirs
    return 0


def _sweep_hash(client: Any, key: str, needle: str) -> int:
    """A number as a field (an index like number -> code) loses the field; a number in a value
    (a record such as a delivery or an alert) loses the whole record."""
    record = client.hgetall(key)
    fields = [f for f in record if needle in f]
    if any(needle in v for f, v in record.items() if f not in fields):
        return int(client.delete(key))
    if fields:
        client.hdel(key, *fields)
    return 0


def _sweep_stream(client: Any, key: str, needle: str) -> None:
    """Pending outbox entries too: a consumer that claims a deleted entry just acks it."""
    start = "-"
    while True:
        page = client.xrange(key, min=start, count=STREAM_PAGE)
        doomed = [eid for eid, fields in page if needle in json.dumps(fields)]
        if doomed:
            client.xdel(key, *doomed)
        if len(page) < STREAM_PAGE:
            return
        start = f"({page[-1][0]}"
