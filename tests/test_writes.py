"""Batches of writes: applied all together, and a patient's commit only if nothing it read moved."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import fakeredis
import pytest

from bot import keys
from bot.core.model import Patient
from bot.store import Store
from bot.writes import Expect, Writes
from tests.redis_server import RedisServer

PHONE = "+19495550123"


@pytest.fixture(params=["fakeredis", "redis-server"])
def r(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "fakeredis":
        yield fakeredis.FakeRedis(decode_responses=True)
        return
    with RedisServer() as server:
        yield server.client()


def test_a_batch_applies_every_kind_of_write(r: Any) -> None:
    r.sadd("gone", "a", "b")
    r.zadd("scores", {"old": 1})
    writes = Writes()
    writes.set("doc", "{}", ex=timedelta(days=1))
    writes.set("mark", "1", nx=True, ex=60)
    writes.sadd("members", "x", "y")
    writes.srem("gone", "a")
    writes.zadd("scores", {"new": 2.5})
    writes.zrem("scores", "old")
    writes.hset("record", mapping={"status": "open", "level": "urgent"})
    writes.hset("record", "stage", "resend")
    writes.expire("record", 3600)
    writes.enqueue_once("dedupe:m1", 60, "stream", {"id": "m1", "body": "hello"})
    writes.enqueue_once("dedupe:m1", 60, "stream", {"id": "m1", "body": "hello"})
    assert writes.apply(r) == 1  # the second enqueue of m1 found its mark
    assert keys.text(r.get("doc")) == "{}" and 86000 < r.ttl("doc") <= 86400
    assert 0 < r.ttl("mark") <= 60
    assert {keys.text(m) for m in r.smembers("members")} == {"x", "y"}
    assert {keys.text(m) for m in r.smembers("gone")} == {"b"}
    assert [(keys.text(m), s) for m, s in r.zrange("scores", 0, -1, withscores=True)] == [
        ("new", 2.5)
    ]
    record = {keys.text(k): keys.text(v) for k, v in r.hgetall("record").items()}
    assert record == {"status": "open", "level": "urgent", "stage": "resend"}
    assert 0 < r.ttl("record") <= 3600
    [(_, fields)] = r.xrange("stream")
    assert {keys.text(k): keys.text(v) for k, v in fields.items()} == {"id": "m1", "body": "hello"}


def expect(doc: str | None, *, opted: bool = False, sid: str | None = None) -> Expect:
    return Expect("doc", doc, "optout", PHONE, opted, sid)


def one_write() -> Writes:
    writes = Writes()
    writes.sadd("applied", "yes")
    return writes


def test_a_commit_applies_when_nothing_it_read_changed(r: Any) -> None:
    assert one_write().commit(r, expect(None, sid="sid:1"))  # nothing stored yet: still nothing
    r.set("doc", "v1")
    r.sadd("optout", PHONE)
    assert one_write().commit(r, expect("v1", opted=True))
    assert r.scard("applied") == 1


@pytest.mark.parametrize(
    "meanwhile",
    [
        lambda r: r.set("doc", "v2"),  # another message from the number was saved
        lambda r: r.delete("doc"),  # the number was forgotten
        lambda r: r.sadd("optout", PHONE),  # STOP arrived (or Twilio said 21610)
        lambda r: r.set("sid:1", "[]"),  # the same MessageSid was processed elsewhere
    ],
    ids=["document changed", "document deleted", "opted out", "sid processed"],
)
def test_a_commit_applies_nothing_when_something_it_read_moved(r: Any, meanwhile: Any) -> None:
    r.set("doc", "v1")
    meanwhile(r)
    assert not one_write().commit(r, expect("v1", sid="sid:1"))
    assert not r.exists("applied")


def test_a_commit_refuses_a_document_that_appeared(r: Any) -> None:
    r.set("doc", "")  # even an empty value is not "no document"
    assert not one_write().commit(r, expect(None))


def test_update_runs_the_change_again_on_a_fresh_read_after_a_conflict(r: Any) -> None:
    store = Store(r)
    store.update(PHONE, lambda p, w: store.queue_save(w, Patient(PHONE, plan={"n": 1})))
    seen: list[Any] = []

    def change(patient: Patient, writes: Writes) -> None:
        seen.append(patient.plan)
        if len(seen) == 1:  # another worker saves the number between our read and commit
            store.update(PHONE, lambda p, w: store.queue_save(w, Patient(PHONE, plan={"n": 2})))
        store.queue_save(writes, Patient(PHONE, plan={"n": patient.plan["n"] + 10}))

    store.update(PHONE, change)
    assert seen == [{"n": 1}, {"n": 2}]  # the first attempt wrote nothing
    assert store.load(PHONE).plan == {"n": 12}


def test_a_batch_refuses_what_redis_would_refuse_halfway_before_writing_anything(r: Any) -> None:
    writes = Writes()
    writes.set("doc", "{}")
    writes.srem("gone")  # no members: nothing to do, and not an error at EXEC time
    writes.zadd("scores", {})
    writes.hset("record", mapping={})
    assert writes.ops == 1
    with pytest.raises(TypeError, match="convert it to text"):
        writes.set("doc", None)
    with pytest.raises(ValueError, match="split it"):
        writes.sadd("members", *range(8000))
    writes.apply(r)
    assert keys.text(r.get("doc")) == "{}" and not r.exists("members")
