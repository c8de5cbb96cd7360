"""What anonymous visitors and forged senders cannot do: text anyone at will, grow the store,
reach premium numbers, act as staff, see session ids, or hang a request on alert references."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import datetime, timedelta
from typing import Any

import fakeredis
import pytest

from bot import keys
from bot.alerts import REF_LENGTH, REF_TRIES, AlertRefsExhausted, allocate_ref
from bot.cli import main
from bot.core.escalation import callback_number
from bot.core.model import Inbound
from bot.runtime import Runtime
from bot.service import InviteLimits
from bot.web_chat import TRANSCRIPT_BYTES
from tests.conftest import EXERCISES_PATH, Clock, Phone
from tests.test_web_chat import Visitor

STAFF = "+19495550101"


def to_reminder_offer(rt: Runtime, web: str) -> None:
    for text in ("hi", *(t for _, t in EXERCISES_PATH)):
        rt.service.handle_inbound(web, Inbound(text, "web"), rt.clock())


def texts_to(rt: Runtime, number: str) -> list[str]:
    return [f["body"] for _, f in rt.redis.xrange(keys.OUTBOX) if f["to"] == number]


def test_a_number_gets_one_invite_a_week_whichever_session_asks(
    runtime: Runtime, clock: Clock
) -> None:
    for n in range(3):
        to_reminder_offer(runtime, f"web:visitor{n}")
        runtime.service.handle_inbound(
            f"web:visitor{n}", Inbound("949 555 0188 at 7am", "web"), clock()
        )
    assert len(texts_to(runtime, "+19495550188")) == 1
    clock.advance(days=8)
    to_reminder_offer(runtime, "web:visitor9")
    runtime.service.handle_inbound("web:visitor9", Inbound("949 555 0188 at 7am", "web"), clock())
    assert len(texts_to(runtime, "+19495550188")) == 2


def test_invites_have_a_clinic_wide_hourly_cap(runtime: Runtime, clock: Clock) -> None:
    runtime.service.invite_limits = InviteLimits(per_hour=2)
    numbers = [f"+1949555{n:04d}" for n in range(300, 304)]
    for n, number in enumerate(numbers):
        to_reminder_offer(runtime, f"web:v{n}")
        runtime.service.handle_inbound(f"web:v{n}", Inbound(f"{number} at 7am", "web"), clock())
    assert [len(texts_to(runtime, n)) for n in numbers] == [1, 1, 0, 0]


def test_an_invite_stores_nothing_about_the_number_until_it_replies(
    runtime: Runtime, clock: Clock
) -> None:
    number = "+19495550177"
    to_reminder_offer(runtime, "web:visitor5")
    runtime.service.handle_inbound("web:visitor5", Inbound("(949) 555-0177 at 7am", "web"), clock())
    assert len(texts_to(runtime, number)) == 1
    bare_hash = hashlib.sha256(number.encode()).hexdigest()[:16]
    visitors_own = (keys.OUTBOX, keys.patient("web:visitor5"))  # the message; what they typed
    for key in runtime.redis.keys("*"):
        assert number[1:] not in key and bare_hash not in key, key
        if key not in visitors_own and runtime.redis.type(key) == "string":
            assert number[1:] not in runtime.redis.get(key), key
    assert not runtime.redis.sismember(keys.PATIENTS, number)
    # Their YES is the opt-in, recorded in their consent log.
    replies = runtime.service.handle_inbound(number, Inbound("YES"), clock()).replies
    assert "8:00 am" in replies[0]  # 7am, moved to the earliest allowed time
    assert runtime.store.load(number).plan["status"] == "active"  # type: ignore[index]
    events = runtime.store.consent_log(number)
    assert [(e["event"], e["scope"], e["words"], e["answering"]) for e in events] == [
        ("opt-in", "reminders", "YES", "reminder_offer")
    ]


@pytest.mark.parametrize(
    "typed",
    ["+1 900 555 0101", "1-800-555-0101", "+1 500 555 0006", "+44 7911 123456", "+1 604 555 0101"],
)
def test_callback_numbers_are_ordinary_numbers_in_the_clinics_country(
    runtime: Runtime, typed: str
) -> None:
    assert callback_number(typed, "US") is None
    web = "web:caller"
    for text in ("hi", "yes", "2"):  # urgent: the bot asks for a number to call
        runtime.service.handle_inbound(web, Inbound(text, "web"), runtime.clock())
    reply = runtime.service.handle_inbound(web, Inbound(typed, "web"), runtime.clock()).replies
    assert "valid phone number" in reply[0]
    assert all(a["phone"] == web for a in runtime.alerts.listing())


def test_an_ordinary_local_number_is_taken() -> None:
    assert callback_number("(949) 555-0101", "US") == "+19495550101"


@pytest.mark.parametrize(
    "sender", ["whatsapp:+19495550101", "+19495550101;ext=2", "+1 949 555 0101", "19495550101"]
)
def test_only_the_exact_sms_sender_is_staff(
    app: Any, runtime: Runtime, new_phone: Any, sender: str
) -> None:
    patient = new_phone()
    for text in ("hi", "yes", "1"):
        patient.send(text)
    ref = runtime.alerts.open_refs()[0]
    forged = Phone(app.test_client(), sender)
    for text in ("OPEN", f"ACK {ref}"):
        forged.send(text)
        assert forged.status == 200 and ref not in forged.said
    assert runtime.alerts.get(ref)["status"] == "open"  # type: ignore[index]
    staff = Phone(app.test_client(), STAFF)
    staff.send(f"ACK {ref}")
    assert runtime.alerts.get(ref)["status"] == "claimed"  # type: ignore[index]


def test_staff_never_see_a_web_session_id(
    app: Any, runtime: Runtime, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    visitor = Visitor(app)
    for text in ("hi", "yes", "1"):  # an emergency from the web: an alert without a number
        visitor.send(text)
    chat = visitor.chat_id
    staff = Phone(app.test_client(), STAFF)
    staff.send("OPEN")
    assert runtime.alerts.open_refs() and chat not in staff.said
    assert "web chat visitor" in staff.said
    monkeypatch.setattr("bot.runtime.build", lambda *_a, **_k: runtime)
    assert main(["alerts"]) == 0
    listed = capsys.readouterr().out
    assert "web-visitor" in listed and chat not in listed
    assert all(chat not in key for key in runtime.redis.keys("*"))


def test_web_chats_that_only_say_hello_cost_the_store_nothing(app: Any, runtime: Runtime) -> None:
    for n in range(25):
        visitor = Visitor(app, ip=f"203.0.113.{n}")
        assert "Impact Physical Therapy" in visitor.send("hi")[0]
        visitor.send("hello?")  # not an answer: still nothing to keep
        assert [m["text"] for m in visitor.history() if m["from"] == "you"] == ["hi", "hello?"]
    stored = runtime.redis.keys("*")
    assert all(k.startswith(f"{keys.PREFIX}web:rate:") for k in stored), stored
    assert all(runtime.redis.ttl(k) <= 120 for k in stored)


def test_a_chat_is_stored_at_its_first_real_answer_with_what_came_before(
    app: Any, runtime: Runtime
) -> None:
    visitor = Visitor(app)
    greeting = visitor.send("hi")
    assert "chest pain" in visitor.send("yes")[0]
    assert runtime.store.load(visitor.patient_id).conversation.answers == {"consent": True}
    history = visitor.history()
    assert [m["text"] for m in history if m["from"] == "you"] == ["hi", "yes"]
    assert [m["text"] for m in history if m["from"] == "bot"][: len(greeting)] == greeting
    assert "How old are you" in visitor.send("0")[0]


def test_a_transcript_is_capped_in_bytes(app: Any, runtime: Runtime, clock: Clock) -> None:
    visitor = Visitor(app)
    visitor.send("hi")
    visitor.send("yes")
    for n in range(90):
        if n % 15 == 14:
            clock.advance(seconds=61)  # stay under the per-session rate limit
        visitor.send(f"{n} " + "x" * 900)
    stored = runtime.redis.lrange(keys.web_transcript(visitor.patient_id), 0, -1)
    assert sum(len(item.encode()) for item in stored) <= TRANSCRIPT_BYTES
    assert json.loads(stored[-1])["from"] == "bot"  # the newest entries are the ones kept
    assert any(json.loads(item)["text"].startswith("89 ") for item in stored)


def test_the_production_cookie_is_host_only_and_lives_as_long_as_the_transcript(
    settings: Any, runtime: Runtime
) -> None:
    import dataclasses

    from bot.web import create_app

    production = dataclasses.replace(settings, production=True)
    app = create_app(production, runtime=dataclasses.replace(runtime, settings=production))
    cookie = app.test_client().get("/chat/api/history").headers["Set-Cookie"]
    assert cookie.startswith("__Host-chat=")
    assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie
    assert "Max-Age=86400" in cookie


def test_alert_references_are_claimed_atomically_and_never_reused() -> None:
    client = fakeredis.FakeRedis(decode_responses=True)
    refs = {allocate_ref(client, timedelta(days=1)) for _ in range(200)}
    assert len(refs) == 200 and all(len(r) == REF_LENGTH for r in refs)
    assert all(0 < client.ttl(keys.alert_ref(r)) <= 86400 for r in refs)


class Crowded(fakeredis.FakeRedis):
    """A store where every reference is already taken (or whose SET NX always fails)."""

    def set(self, *args: Any, **kwargs: Any) -> Any:
        return None if kwargs.get("nx") else super().set(*args, **kwargs)

    def exists(self, *names: Any) -> int:
        return len(names)


def test_exhausted_references_fail_fast_instead_of_hanging(runtime: Runtime) -> None:
    crowded = Crowded(decode_responses=True)
    with pytest.raises(AlertRefsExhausted):
        allocate_ref(crowded, timedelta(days=1))
    runtime.alerts.redis = crowded
    from bot.writes import Writes

    outcome: list[object] = []

    def raise_one() -> None:
        try:
            runtime.alerts.queue_create(Writes(), level="urgent", rule="r", phone="+19495550123",
                                        channel="sms", now=datetime.now())  # fmt: skip
        except Exception as err:
            outcome.append(err)

    thread = threading.Thread(target=raise_one, daemon=True)
    thread.start()
    thread.join(2)
    assert not thread.is_alive(), "alert reference allocation hung"
    assert outcome and isinstance(outcome[0], AlertRefsExhausted)
    assert REF_TRIES >= 3


def test_a_trial_chat_keeps_its_cookie_small_whatever_is_typed(app: Any) -> None:
    import random

    rng = random.Random(13)
    visitor = Visitor(app)
    visitor.send("hi")
    emoji = "".join(chr(rng.randrange(0x1F300, 0x1F600)) for _ in range(1000))
    letters = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(1000))
    for text in (emoji, letters, emoji[::-1]):  # random: the cookie's zlib cannot shrink it
        response = visitor.post(text)
        assert response.status_code == 200
        cookie = response.headers["Set-Cookie"].split(";")[0]
        assert len(cookie) < 4000, len(cookie)
    assert "chest pain" in visitor.send("yes")[0]  # the session survived: the chat goes on
