"""Reading the outbox lanes for one consumer: the most urgent lane with work first."""

from __future__ import annotations

from typing import Any

import redis

from bot import keys
from bot.core.sending import Fields, Lane

LANES = tuple(Lane)
Item = tuple[str, str, Fields | None]  # stream, entry id, fields (None: deleted while pending)


class LaneReader:
    """One consumer's view of the lane streams: abandoned entries, then new ones, by lane."""

    def __init__(self, client: redis.Redis, name: str, claim_idle_ms: int, batch: int,
                 block_ms: int) -> None:  # fmt: skip
        self.redis = client
        self.name = name
        self.claim_idle_ms = claim_idle_ms
        self.batch = batch
        self.block_ms = block_ms
        self.ready = False
        self._cursors = {lane: "0-0" for lane in LANES}

    def ensure_group(self) -> None:
        if self.ready:
            return
        for lane in LANES:
            try:
                self.redis.xgroup_create(keys.outbox_stream(lane), keys.OUTBOX_GROUP, id="0",
                                         mkstream=True)  # fmt: skip
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        self.ready = True

    def next_batch(self) -> list[Item]:
        """The first lane with work, most urgent first; else wait for any lane's next entry."""
        try:
            for lane in LANES:
                entries = self._claim(lane) + self._read([lane], block=False)
                if entries:
                    return entries
            return self._read(LANES, block=True)
        except redis.ResponseError as exc:
            # Real Redis says NOGROUP; fakeredis says the key must exist.
            if "NOGROUP" not in str(exc) and "key to exist" not in str(exc):
                raise
            self.ready = False  # a stream vanished (e.g. a fresh Redis): recreate
            return []

    def more_urgent_than(self, lane: Lane) -> list[Item]:
        """New entries in the first lane above `lane` that has any (no waiting)."""
        for above in LANES[:lane]:
            entries = self._read([above], block=False)
            if entries:
                return entries
        return []

    def _read(self, lanes: Any, *, block: bool) -> list[Item]:
        streams: Any = {keys.outbox_stream(lane): ">" for lane in lanes}
        wait = self.block_ms if block and self.block_ms > 0 else None
        answer: Any = self.redis.xreadgroup(keys.OUTBOX_GROUP, self.name, streams,
                                            count=self.batch, block=wait)  # fmt: skip
        found = {keys.text(s): items for s, items in (answer or [])}
        return [(s, keys.text(eid), f) for s in streams for eid, f in found.get(s, [])]

    def _claim(self, lane: Lane) -> list[Item]:
        stream = keys.outbox_stream(lane)
        answer: Any = self.redis.xautoclaim(stream, keys.OUTBOX_GROUP, self.name,
                                            self.claim_idle_ms, self._cursors[lane],
                                            count=self.batch)  # fmt: skip
        self._cursors[lane] = keys.text(answer[0])
        return [(stream, keys.text(eid), f) for eid, f in answer[1]]


def queued(client: Any) -> list[dict[str, str]]:
    """The fields of every entry waiting in the streams, most urgent lane first (inspection)."""
    return [
        {keys.text(k): keys.text(v) for k, v in fields.items()}
        for lane in LANES
        for _id, fields in client.xrange(keys.outbox_stream(lane))
    ]
