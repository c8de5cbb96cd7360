"""Each message once: owned send marks, ambiguous sends reconciled, lanes served in order."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import keys
from bot.core.sending import Lane, Mark, MarkState
from bot.outbox import OutboxConsumer, drain, enqueue
from bot.ratelimit import RateLimiter
from bot.twilio_sender import SendResult
from tests.fake_twilio import FakeTwilio
from tests.test_outbox import PATIENT, Clock, consumer, put, sender_for, unfinished


def test_an_entry_whose_owner_is_still_sending_is_not_taken_over(r: Any,
                                                                  fake: FakeTwilio) -> None:  # fmt: skip
    """Idle over the claim time is normal behind the rate limit: a live owner keeps its entry."""
    put(r, "m1")
    real = sender_for(fake)
    thief = consumer(r, real, "w2", claim_idle_ms=0, settle=0)
    stolen: list[int] = []

    class SlowOwner:  # while the owner is inside its send, another worker looks at the entry
        def send(self, to: str, body: str) -> SendResult:
            stolen.append(thief.run_once())
            return real.send(to, body)

        def find_sent(self, to: str, body: str, since: float) -> str | None:
            return real.find_sent(to, body, since)

    drain(consumer(r, SlowOwner(), "w1"))
    assert stolen == [1]  # the thief claimed it, saw a live owner, and left it alone
    assert fake.count_to(PATIENT) == 1
    drain(thief)
    assert fake.count_to(PATIENT) == 1 and unfinished(r) == 0


def test_the_send_mark_names_its_owner(r: Any) -> None:
    put(r, "m1")
    seen: list[Mark] = []

    class Peek:
        def send(self, to: str, body: str) -> SendResult:
            seen.append(Mark.load(r.get(keys.outbox_sending("m1")).decode()))
            return SendResult("SM1")

        def find_sent(self, to: str, body: str, since: float) -> str | None:
            return None

    drain(consumer(r, Peek(), "host-7"))
    assert [(m.owner, m.state) for m in seen] == [("host-7", MarkState.SENDING)]


def test_ownership_stays_fresh_while_waiting_for_a_send_slot(r: Any) -> None:
    put(r, "m1")
    rival = consumer(r, None, "w2", claim_idle_ms=0)
    limiter = RateLimiter(r, 0.001)  # one send per 1000 s: the first takes the only slot
    limiter.acquire("default", 0.0)
    clock = Clock(1.0)
    claims: list[int] = []

    def wait(seconds: float) -> None:  # every wait, a rival looks for idle entries to claim
        idle = r.xpending_range(keys.OUTBOX, keys.OUTBOX_GROUP, "-", "+", 10)[0]
        claims.append(int(idle["time_since_delivered"]))
        clock.now += seconds

    owner = consumer(r, _Accept(), "w1", rate=limiter, clock=clock, sleep=wait)
    drain(owner, rounds=1)
    assert claims and max(claims) < 1000  # reset while waiting: never looks abandoned
    assert rival.redis is r


class _Accept:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, to: str, body: str) -> SendResult:
        self.sent.append((to, body))
        return SendResult(f"SM{len(self.sent)}")

    def find_sent(self, to: str, body: str, since: float) -> str | None:
        return None


@pytest.mark.parametrize("fault", ["drop", "slow"])
def test_an_accepted_then_lost_send_is_reconciled_never_sent_twice(r: Any, fake: FakeTwilio,
                                                                  fault: str) -> None:  # fmt: skip
    fake.drop_next(1) if fault == "drop" else fake.slow_next(1, 1.0)
    clock = Clock(time.time())  # Twilio's list is dated by real time
    worker = consumer(r, sender_for(fake, timeout=0.3), clock=clock)
    put(r, "m1", body="Your 7am reminder")
    drain(worker)
    assert fake.count_to(PATIENT) == 1 and r.get(keys.outbox_sent("m1")) is None
    parked = Mark.load(r.get(keys.outbox_sending("m1")).decode())
    assert parked.state is MarkState.UNKNOWN  # the mark is kept; nothing is re-sent at once
    posts = sum(1 for m, _, _ in fake.requests if m == "POST")
    clock.now += 10
    drain(worker)  # not settled yet: Twilio may not list it
    clock.now += 60
    drain(worker)
    assert sum(1 for m, _, _ in fake.requests if m == "POST") == posts == 1
    assert r.get(keys.outbox_sent("m1")).decode() == fake.messages[0].sid
    assert unfinished(r) == 0


def test_a_failed_look_up_waits_and_never_resends(r: Any, fake: FakeTwilio) -> None:
    fake.drop_next(1)
    fake.fail_lists(3)
    clock = Clock(time.time())  # Twilio's list is dated by real time
    worker = consumer(r, sender_for(fake), clock=clock)
    put(r, "m1")
    for _ in range(6):
        drain(worker)
        clock.now += 40
    assert fake.count_to(PATIENT) == 1
    assert r.get(keys.outbox_sent("m1")).decode() == fake.messages[0].sid


def test_the_look_up_pages_back_to_the_send_time(r: Any, fake: FakeTwilio) -> None:
    """Twilio lists newest first; 250 later messages to the same number must not hide ours."""
    fake.drop_next(1)
    clock = Clock(time.time())  # Twilio's list is dated by real time
    sender = sender_for(fake)
    worker = consumer(r, sender, clock=clock)
    put(r, "m1", body="the lost one")
    drain(worker)
    for i in range(250):
        sender.send(PATIENT, f"later {i}")
    clock.now += 60
    drain(worker)
    assert fake.bodies_to(PATIENT).count("the lost one") == 1
    assert r.get(keys.outbox_sent("m1")).decode() == fake.messages[0].sid


def test_a_request_that_never_reached_twilio_is_sent_again(r: Any, fake: FakeTwilio) -> None:
    fake.fail_next(1, status=503)
    clock = Clock(time.time())  # Twilio's list is dated by real time
    worker = consumer(r, sender_for(fake, max_attempts=1), clock=clock)
    put(r, "m1")
    drain(worker)
    assert r.get(keys.outbox_sending("m1")) is None  # provably not sent: no mark to reconcile
    clock.now += 20
    drain(worker)
    assert fake.count_to(PATIENT) == 1 and unfinished(r) == 0


OPS = st.lists(st.one_of(st.sampled_from(list(Lane)), st.just("step")), min_size=1,
               max_size=60)  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(ops=OPS)
def test_every_send_comes_from_the_most_urgent_lane_waiting(ops: list[Lane | str]) -> None:
    """Under any interleaving of arrivals and sends, nothing waits behind a less urgent one."""
    import fakeredis

    client = fakeredis.FakeRedis()
    sender = _Accept()
    worker = OutboxConsumer(client, sender, consumer_name="w", rate=None, block_ms=0, batch=1)
    served: list[tuple[Lane | None, str]] = []
    for n, op in enumerate([*ops, *["step"] * len(ops)]):
        if isinstance(op, Lane):
            kind = "alert" if op is not Lane.REST else "reminder"
            enqueue(client, message_id=f"m{n}", to="+1", body=f"{int(op)}:{n}", kind=kind,
                    lane=op)  # fmt: skip
            continue
        waiting = [lane for lane in Lane if client.xlen(keys.outbox_stream(lane))]
        before = len(sender.sent)
        worker.run_once()
        if len(sender.sent) > before:
            served.append((min(waiting), sender.sent[-1][1]))
    for most_urgent, body in served:
        assert int(body.split(":")[0]) == most_urgent


def test_lanes_under_a_random_load_drain_in_order() -> None:
    import fakeredis

    client = fakeredis.FakeRedis()
    rand = random.Random(7)
    lanes = [rand.choice(list(Lane)) for _ in range(300)]
    for n, lane in enumerate(lanes):
        enqueue(client, message_id=f"m{n}", to="+1", body=str(int(lane)), kind="alert", lane=lane)
    sender = _Accept()
    drain(OutboxConsumer(client, sender, consumer_name="w", rate=None, block_ms=0), rounds=500)
    order = [int(body) for _, body in sender.sent]
    assert order == sorted(order) and len(order) == 300


def test_an_emergency_arriving_while_a_reminder_waits_for_a_slot_goes_first(r: Any) -> None:
    """The worker already holds a reminder and waits for the shared rate: the emergency that
    arrives meanwhile takes the next slot, not the one after the reminder."""
    limiter = RateLimiter(r, 1.0)
    clock = Clock(100.0)
    limiter.acquire("default", clock.now)  # the last send just took this second's slot
    put(r, "reminder")

    def wait(seconds: float) -> None:
        if not r.exists(keys.outbox_enqueued("alert")):
            enqueue(r, message_id="alert", to="+19495550101", body="EMERGENCY", kind="alert",
                    lane=Lane.EMERGENCY)  # fmt: skip
        clock.now += seconds

    sender = _Accept()
    drain(consumer(r, sender, rate=limiter, clock=clock, sleep=wait))
    assert [body for _, body in sender.sent] == ["EMERGENCY", "Time for your exercises"]
