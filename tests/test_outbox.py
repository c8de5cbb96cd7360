"""The outbox end to end: enqueue, consume through the SDK into the fake, crash and reclaim."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from typing import Any

import fakeredis
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import keys
from bot.delivery import RetryRequest, StatusAction, apply_status, record_status, status_policy
from bot.outbox import OutboxConsumer, drain, enqueue, queue
from bot.ratelimit import RateLimiter
from bot.twilio_sender import RetryPolicy, SendResult, TwilioSender, TwilioSettings
from bot.writes import Writes
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from tests.redis_server import RedisServer, redis_server  # noqa: F401 - a fixture

PATIENT = "+19495550101"
OTHER = "+19495550102"


class Clock:
    """A clock the test moves; `sleep` advances it instead of waiting."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Crash(BaseException):
    """A worker killed mid-send (BaseException: nothing in the consumer catches it)."""


def sender_for(fake: FakeTwilio, **policy: float) -> TwilioSender:
    settings = TwilioSettings(ACCOUNT_SID, AUTH_TOKEN, from_number="+19494091339",
                              api_base_url=fake.base_url)  # fmt: skip
    return TwilioSender(settings, policy=RetryPolicy(**policy), sleep=lambda _: None)  # type: ignore[arg-type]


def consumer(r: Any, sender: Any, name: str = "w1", **kwargs: Any) -> OutboxConsumer:
    options: dict[str, Any] = {"rate": None, "block_ms": 0, **kwargs}
    return OutboxConsumer(r, sender, consumer_name=name, **options)


def put(r: Any, message_id: str, to: str = PATIENT, body: str = "Time for your exercises",
        **extra: Any) -> bool:  # fmt: skip
    return enqueue(r, message_id=message_id, to=to, body=body, kind="reminder", **extra)


def unfinished(r: Any) -> int:
    pending = r.xpending(keys.OUTBOX, keys.OUTBOX_GROUP)["pending"]
    return int(pending) + int(r.xlen(keys.OUTBOX)) + int(r.zcard(keys.OUTBOX_DELAYED))


def test_a_message_is_sent_once_marked_sent_and_removed(r: Any, fake: FakeTwilio) -> None:
    assert put(r, "m1")
    assert drain(consumer(r, sender_for(fake))) == 1
    assert fake.count_to(PATIENT) == 1
    assert r.get(keys.outbox_sent("m1")).decode() == fake.messages[0].sid
    assert r.get(keys.outbox_sending("m1")) is None
    assert unfinished(r) == 0


def test_the_same_message_id_enqueued_twice_is_sent_once(r: Any, fake: FakeTwilio) -> None:
    assert put(r, "m1") is True
    assert put(r, "m1") is False
    pipe = r.pipeline()  # two batches in one MULTI: the second finds the first's mark
    pipe.multi()
    for _ in range(2):
        writes = Writes()
        queue(writes, message_id="m2", to=OTHER, body="b", kind="alert")
        writes.apply(pipe)
    assert [int(added) for _, added in pipe.execute()] == [1, 0]
    writes = Writes()  # and twice in one batch
    for _ in range(2):
        queue(writes, message_id="m3", to=OTHER, body="c", kind="alert")
    assert writes.apply(r) == 1
    drain(consumer(r, sender_for(fake)))
    assert (fake.count_to(PATIENT), fake.count_to(OTHER)) == (1, 2)


def test_a_500_is_retried_inside_the_send(r: Any, fake: FakeTwilio) -> None:
    fake.fail_next(1, status=500)
    put(r, "m1")
    drain(consumer(r, sender_for(fake)))
    assert fake.count_to(PATIENT) == 1
    assert unfinished(r) == 0


def test_21610_marks_opted_out_and_the_number_is_never_sent_to_again(r: Any,
                                                                     fake: FakeTwilio) -> None:  # fmt: skip
    fake.fail_for(PATIENT, status=400, code=21610)
    told: list[tuple[str, int | None]] = []
    worker = consumer(r, sender_for(fake), on_permanent=lambda to, code: told.append((to, code)))
    put(r, "m1")
    drain(worker)
    assert r.sismember(keys.OPTED_OUT, PATIENT)
    assert told == [(PATIENT, 21610)]
    [(_, dead)] = r.xrange(keys.OUTBOX_DEAD)
    assert dead[b"reason"] == b"opted_out" and dead[b"error_code"] == b"21610"

    fake.fail_for(PATIENT, status=400, code=0)  # would be refused, but must not even be tried
    posts_before = len(fake.requests)
    put(r, "m2")
    put(r, "m3", to=f"whatsapp:{PATIENT}")
    drain(worker)
    assert len(fake.requests) == posts_before
    assert unfinished(r) == 0


@pytest.mark.parametrize("code", [21211, 21614])
def test_invalid_numbers_are_marked_unreachable_and_skipped(r: Any, fake: FakeTwilio,
                                                            code: int) -> None:  # fmt: skip
    fake.fail_for(PATIENT, status=400, code=code)
    worker = consumer(r, sender_for(fake))
    put(r, "m1")
    drain(worker)
    assert r.hget(keys.UNREACHABLE, PATIENT) == str(code).encode()
    assert r.zscore(keys.UNREACHABLE_AT, PATIENT) is not None  # the retention sweep ends it
    requests_before = len(fake.requests)
    put(r, "m2")
    drain(worker)
    assert len(fake.requests) == requests_before


def test_opted_out_recipients_are_skipped_whoever_asks(r: Any, fake: FakeTwilio) -> None:
    r.sadd(keys.OPTED_OUT, PATIENT)
    worker = consumer(r, sender_for(fake), is_opted_out=lambda number: number == OTHER)
    put(r, "m1")
    put(r, "m2", to=OTHER)
    put(r, "m3", to="+19495550103")
    drain(worker)
    assert [m.to for m in fake.messages] == ["+19495550103"]
    assert unfinished(r) == 0


def test_a_future_message_waits_without_spinning_and_goes_out_on_time(r: Any,
                                                                      fake: FakeTwilio) -> None:  # fmt: skip
    clock = Clock()
    worker = consumer(r, sender_for(fake), clock=clock)
    put(r, "m1", not_before=clock.now + 3600)
    assert worker.run_once() == 1  # parked
    assert worker.run_once() == 0
    assert fake.messages == [] and r.zcard(keys.OUTBOX_DELAYED) == 1
    clock.now += 3601
    drain(worker)
    assert fake.count_to(PATIENT) == 1
    assert unfinished(r) == 0


def test_a_transient_failure_keeps_the_message_and_retries_it_later(r: Any,
                                                                    fake: FakeTwilio) -> None:  # fmt: skip
    clock = Clock()
    worker = consumer(r, sender_for(fake, max_attempts=1), clock=clock)
    fake.fail_next(1, status=503)
    put(r, "m1")
    drain(worker)
    assert fake.messages == [] and unfinished(r) == 1
    clock.now += 20
    drain(worker)
    assert fake.count_to(PATIENT) == 1
    assert unfinished(r) == 0


def test_entries_of_a_killed_consumer_are_claimed_and_sent_once(r: Any, fake: FakeTwilio) -> None:
    for i in range(5):
        put(r, f"m{i}", body=f"reminder {i}")
    survivor = consumer(r, sender_for(fake), "survivor", claim_idle_ms=100)
    survivor.run_once()  # creates the group; the stream is read by the next line first
    r.xadd(keys.OUTBOX, {"id": "late", "to": OTHER, "body": "x", "kind": "k"})
    read = r.xreadgroup(keys.OUTBOX_GROUP, "dead", {keys.OUTBOX: ">"})  # then never acked
    assert len(read[0][1]) == 1
    assert fake.count_to(OTHER) == 0
    time.sleep(0.15)
    drain(survivor)
    assert fake.count_to(OTHER) == 1
    assert Counter(m.body for m in fake.messages).most_common(1)[0][1] == 1
    assert len(fake.messages) == 6
    assert unfinished(r) == 0


def test_a_batch_abandoned_after_xreadgroup_is_sent_once_by_another(r: Any,
                                                                   fake: FakeTwilio) -> None:  # fmt: skip
    r.xgroup_create(keys.OUTBOX, keys.OUTBOX_GROUP, id="0", mkstream=True)
    for i in range(5):
        put(r, f"m{i}", body=f"reminder {i}")
    r.xreadgroup(keys.OUTBOX_GROUP, "dead", {keys.OUTBOX: ">"}, count=10)
    survivor = consumer(r, sender_for(fake), "survivor", claim_idle_ms=600)
    assert survivor.run_once() == 0  # not idle long enough: the owner may be alive
    time.sleep(0.65)
    drain(survivor)
    assert sorted(m.body for m in fake.messages) == [f"reminder {i}" for i in range(5)]
    assert unfinished(r) == 0


class CrashAround:
    """The real sender, with the worker dying just before or just after Twilio's answer."""

    def __init__(self, sender: TwilioSender, *, after: bool) -> None:
        self.sender = sender
        self.after = after

    def send(self, to: str, body: str) -> SendResult:
        if self.after:
            self.sender.send(to, body)
        raise Crash

    def find_sent(self, to: str, body: str, since: float) -> str | None:
        return self.sender.find_sent(to, body, since)


@pytest.mark.parametrize("after", [True, False])
def test_an_ambiguous_send_is_reconciled_with_twilio_before_any_resend(
    r: Any, fake: FakeTwilio, after: bool
) -> None:
    put(r, "m1", body="Your 7am reminder")
    with pytest.raises(Crash):
        consumer(r, CrashAround(sender_for(fake), after=after), "doomed").run_once()
    assert r.get(keys.outbox_sending("m1")) is not None
    assert r.get(keys.outbox_sent("m1")) is None
    r.delete(keys.outbox_alive("doomed"))  # its heartbeat lapses: the process is gone
    time.sleep(0.15)
    drain(consumer(r, sender_for(fake), "survivor", claim_idle_ms=100, settle=0))
    assert fake.count_to(PATIENT) == 1  # sent exactly once either way
    assert r.get(keys.outbox_sent("m1")).decode() == fake.messages[0].sid
    assert unfinished(r) == 0


def test_two_consumers_on_one_group_never_double_send(
    fake: FakeTwilio,
    redis_server: RedisServer,  # noqa: F811 - the fixture imported above
) -> None:
    client = redis_server.client()
    for i in range(200):
        put(client, f"m{i}", to=f"+1949555{i:04d}", body=f"message {i}")
    stop = threading.Event()
    workers = [consumer(redis_server.client(), sender_for(fake), f"w{n}", block_ms=50, batch=5)
               for n in range(2)]  # fmt: skip
    threads = [threading.Thread(target=w.run_forever, args=(stop,)) for w in workers]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(fake.messages) < 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # a double send would show up now
    stop.set()
    for thread in threads:
        thread.join(10)
    assert len(fake.messages) == 200
    assert set(Counter(m.body for m in fake.messages).values()) == {1}
    assert unfinished(client) == 0


def test_the_rate_limit_is_shared_between_consumers(r: Any, fake: FakeTwilio) -> None:
    clock = Clock()
    sent_at: list[float] = []

    class Timed:
        def send(self, to: str, body: str) -> SendResult:
            sent_at.append(clock())
            return SendResult(f"SM{len(sent_at)}")

        def find_sent(self, to: str, body: str, since: float) -> str | None:
            return None

    options: dict[str, Any] = {"clock": clock, "sleep": clock.sleep, "batch": 1}
    workers = [consumer(r, Timed(), f"w{n}", rate=RateLimiter(r, rate=2.0), **options)
               for n in range(2)]  # fmt: skip
    for i in range(6):
        put(r, f"m{i}", body=f"b{i}")
    for _ in range(4):
        for worker in workers:
            worker.run_once()
    assert len(sent_at) == 6
    gaps = [b - a for a, b in itertools.pairwise(sent_at)]
    assert all(gap >= 0.5 - 1e-6 for gap in gaps), gaps


def test_the_limiter_counts_across_processes_and_allows_float_rates(r: Any) -> None:
    one, two = RateLimiter(r, rate=1.0), RateLimiter(r, rate=1.0)
    assert one.acquire("+1949", 100.0) == 0
    assert two.acquire("+1949", 100.0) == pytest.approx(1.0)
    assert two.acquire("+1949", 100.4) == pytest.approx(0.6)
    assert two.acquire("+1949", 101.0) == 0
    assert one.acquire("other", 100.0) == 0  # per sender
    slow = RateLimiter(r, rate=0.5)
    assert slow.acquire("+1714", 10.0) == 0
    assert slow.acquire("+1714", 11.0) == pytest.approx(1.0)


# --- delivery status callbacks ---
def test_status_moves_forward_only(r: Any) -> None:
    assert record_status(r, "SM1", "sent", None, PATIENT)
    assert record_status(r, "SM1", "delivered", None, PATIENT)
    assert not record_status(r, "SM1", "sent", None, PATIENT)  # late
    assert not record_status(r, "SM1", "delivered", None, PATIENT)  # duplicate
    assert not record_status(r, "SM1", "undelivered", 30003, PATIENT)
    assert not record_status(r, "SM1", "bogus", None, PATIENT)
    assert r.hget(keys.delivery("SM1"), "status") == b"delivered"


ORDER = ["queued", "sending", "sent", "delivered"]


@given(st.permutations(ORDER))
def test_any_arrival_order_ends_at_the_furthest_status(order: list[str]) -> None:
    client = fakeredis.FakeRedis()
    for status in order:
        record_status(client, "SM1", status, None, PATIENT)
    assert client.hget(keys.delivery("SM1"), "status") == b"delivered"


@pytest.mark.parametrize(
    ("status", "code", "action"),
    [("delivered", None, StatusAction.NOTHING), ("sent", None, StatusAction.NOTHING),
     ("undelivered", 30003, StatusAction.RETRY_LATER), ("failed", 30005, StatusAction.MARK_UNREACHABLE),
     ("undelivered", 30006, StatusAction.MARK_UNREACHABLE), ("undelivered", 30007, StatusAction.GIVE_UP),
     ("failed", 30008, StatusAction.GIVE_UP)],
)  # fmt: skip
def test_status_policy(status: str, code: int | None, action: StatusAction) -> None:
    assert status_policy(status, code) is action


def test_30003_is_retried_once_later(r: Any, fake: FakeTwilio) -> None:
    clock = Clock()
    worker = consumer(r, sender_for(fake), clock=clock)
    put(r, "m1")
    drain(worker)
    retries: list[RetryRequest] = []

    def later(req: RetryRequest) -> None:
        retries.append(req)
        enqueue(r, message_id=req.message_id, to=req.to, body=req.body, kind=req.kind,
                not_before=clock.now + 600)  # fmt: skip

    sid = fake.messages[0].sid
    kwargs: dict[str, Any] = {"error_code": 30003, "retry_later": later}
    assert (
        apply_status(r, message_sid=sid, status="undelivered", **kwargs) is StatusAction.RETRY_LATER
    )
    assert apply_status(r, message_sid=sid, status="undelivered", **kwargs) is StatusAction.NOTHING
    assert retries == [RetryRequest("m1:retry", PATIENT, "Time for your exercises", "reminder")]
    clock.now += 601
    drain(worker)
    retry_sid = fake.messages[1].sid
    assert apply_status(r, message_sid=retry_sid, status="failed", **kwargs) is StatusAction.GIVE_UP
    assert len(retries) == 1 and fake.count_to(PATIENT) == 2


def test_30005_marks_unreachable_and_stops_later_messages(r: Any, fake: FakeTwilio) -> None:
    worker = consumer(r, sender_for(fake))
    put(r, "m1")
    drain(worker)
    action = apply_status(r, message_sid=fake.messages[0].sid, status="undelivered",
                          error_code=30005)  # fmt: skip
    assert action is StatusAction.MARK_UNREACHABLE
    put(r, "m2")
    drain(worker)
    assert fake.count_to(PATIENT) == 1


def test_a_lost_stream_is_recreated(r: Any, fake: FakeTwilio) -> None:
    worker = consumer(r, sender_for(fake))
    worker.run_once()
    r.delete(keys.OUTBOX)  # e.g. a Redis without persistence restarted under the worker
    worker.run_once()
    put(r, "m1")
    drain(worker)
    assert fake.count_to(PATIENT) == 1


def test_the_consumer_survives_a_redis_restart(fake: FakeTwilio) -> None:
    with RedisServer() as server:
        client = server.client()
        worker = consumer(client, sender_for(fake))
        put(client, "m1")
        drain(worker)
        server.restart()  # no persistence: an empty Redis on the same port
        drain(worker)  # redis-py reconnects; the group is gone and gets recreated
        put(client, "m2", body="after restart")
        drain(worker)
        assert fake.bodies_to(PATIENT) == ["Time for your exercises", "after restart"]


def test_an_unreadable_entry_is_set_aside_not_retried_forever(r: Any, fake: FakeTwilio) -> None:
    worker = consumer(r, sender_for(fake))
    worker.run_once()
    r.xadd(keys.OUTBOX, {"id": "broken", "body": "no recipient"})
    put(r, "m1")
    drain(worker)
    assert fake.count_to(PATIENT) == 1
    [(_, dead)] = r.xrange(keys.OUTBOX_DEAD)
    assert dead[b"reason"] == b"unreadable"
    assert unfinished(r) == 0


def test_a_consumer_that_lost_its_entry_while_waiting_for_a_slot_does_not_send(
    redis_server: RedisServer,  # noqa: F811 - the fixture
) -> None:
    """A waits for the shared rate limit; meanwhile B claims the idle entry and sends it."""
    client = redis_server.client(decode_responses=True)
    enqueue(client, message_id="m-slow", to="+19495550161", body="hi", kind="notice")
    sends: list[str] = []

    class Recording:
        def send(self, to: str, body: str) -> SendResult:
            sends.append(to)
            return SendResult(f"SM{len(sends):032d}")

        def find_sent(self, to: str, body: str, since: float) -> str | None:
            return None

    now = [0.0]
    b = OutboxConsumer(client, Recording(), consumer_name="b", rate=None, claim_idle_ms=0,
                       block_ms=0)  # fmt: skip

    def a_waits(seconds: float) -> None:  # while A sleeps for its slot, B claims and sends
        b.run_once()
        now[0] += seconds

    limiter = RateLimiter(client, rate=1.0)
    limiter.acquire("default", 0.0)  # the slot at t=0 is taken: A must wait
    a = OutboxConsumer(client, Recording(), consumer_name="a", rate=limiter,
                       clock=lambda: now[0], sleep=a_waits, block_ms=0)  # fmt: skip
    a.run_once()
    assert sends == ["+19495550161"]  # B sent it once; A stood down
    assert client.xpending(keys.OUTBOX, keys.OUTBOX_GROUP)["pending"] == 0
