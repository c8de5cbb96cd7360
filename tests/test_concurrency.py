"""Two messages from one number at the same moment, against a real Redis: no lost update."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest

from bot.core.model import Inbound
from bot.runtime import Runtime, build
from bot.settings import Settings
from tests.redis_server import RedisServer


@pytest.fixture
def live(settings: Settings) -> Iterator[Runtime]:
    with RedisServer() as server:
        yield build(replace(settings, redis_url=server.url))


def at_once(*calls: object) -> None:
    barrier = threading.Barrier(len(calls))

    def run(call: object) -> None:
        barrier.wait()
        call()  # type: ignore[operator]

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)


def test_simultaneous_messages_from_one_number_are_serialized(live: Runtime) -> None:
    service, now, phone = live.service, live.clock(), "+19495553333"
    for text in ("hi", "yes", "0"):
        service.handle_inbound(phone, Inbound(text), now)
    for round_ in range(20):
        # "45" answers the age question; "HELP" changes nothing. Both at once, 20 times over.
        phone_n = f"+1949555{4000 + round_:04d}"
        for text in ("hi", "yes", "0"):
            service.handle_inbound(phone_n, Inbound(text), now)
        at_once(lambda p=phone_n: service.handle_inbound(p, Inbound("45"), now, f"SMa{p}"),
                lambda p=phone_n: service.handle_inbound(p, Inbound("no"), now, f"SMb{p}"))  # fmt: skip
        conv = live.store.load(phone_n).conversation
        # Either order is a valid conversation; a lost update would leave one answer missing.
        assert conv.answers.get("age") == 45
        if conv.answers.get("injury") is not None:
            assert conv.step == "mechanical"
        else:
            assert conv.step == "injury"


def test_the_same_message_sid_delivered_twice_at_once_is_processed_once(live: Runtime) -> None:
    service, now = live.service, live.clock()
    for round_ in range(20):
        phone = f"+1949555{5000 + round_:04d}"
        service.handle_inbound(phone, Inbound("hi"), now)
        results: list[list[str]] = []

        def deliver(phone: str = phone, results: list[list[str]] = results) -> None:
            results.append(
                service.handle_inbound(phone, Inbound("yes"), now, "SMsame" + phone).replies
            )

        at_once(deliver, deliver, deliver)
        assert len(results) == 3 and results[0] == results[1] == results[2]
        assert live.store.load(phone).conversation.step == "red_flags"
