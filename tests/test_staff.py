"""Staff escalation as the on-call team lives it: alerts, ACK, OPEN, re-sends and the backup."""

from __future__ import annotations

from typing import Any

import pytest

from bot import keys
from bot.background import Background, Simulated
from bot.runtime import Runtime
from tests.conftest import Clock, Phone

ON_CALL = ("+19495550101", "+19495550102")
BACKUP = "+19495550199"


@pytest.fixture
def sent(runtime: Runtime) -> Simulated:
    return Background.console(runtime)


def texts_to(messages: list[tuple[str, str]], number: str) -> list[str]:
    return [body for to, body in messages if to == number]


def emergency(phone: Phone) -> None:
    for text in ("hi", "yes", "4"):
        phone.send(text)


def ref_of(body: str) -> str:
    return body.split("alert ")[1].split(":")[0]


def test_an_emergency_reaches_every_on_call_number_and_ack_claims_it(
    app: Any, phone: Phone, sent: Simulated, clock: Clock
) -> None:
    emergency(phone)
    first = sent.step(clock())
    assert sorted(to for to, _ in first) == sorted(ON_CALL)
    ref = ref_of(first[0][1])
    staff_a, staff_b = Phone(app.test_client(), ON_CALL[0]), Phone(app.test_client(), ON_CALL[1])
    staff_b.send("OPEN")
    assert ref in staff_b.last_reply and "emergency" in staff_b.last_reply
    staff_b.send(f"ack {ref.lower()}")
    assert "is yours" in staff_b.last_reply and phone.number in staff_b.last_reply
    after = sent.step(clock())
    assert texts_to(after, ON_CALL[0]) == [f"Alert {ref} was taken by ...0102. No action needed."]
    assert len(texts_to(after, phone.number)) == 1
    assert "call you shortly" in texts_to(after, phone.number)[0]
    staff_a.send(f"ACK {ref}")
    assert "already taken by ...0102" in staff_a.last_reply
    staff_a.send("OPEN")
    assert "No unclaimed alerts" in staff_a.last_reply
    assert sent.step(clock()) == []  # nobody is told twice


def test_unclaimed_alerts_are_resent_then_go_to_the_backup(
    phone: Phone, sent: Simulated, clock: Clock
) -> None:
    emergency(phone)
    assert len(sent.step(clock())) == 2
    clock.advance(minutes=9)
    assert sent.step(clock()) == []
    clock.advance(minutes=1)
    resent = sent.step(clock())
    assert sorted(to for to, _ in resent) == sorted(ON_CALL)
    assert all("REMINDER: unclaimed" in body for _, body in resent)
    clock.advance(minutes=9)
    assert sent.step(clock()) == []
    clock.advance(minutes=1)
    backup = sent.step(clock())
    assert [to for to, _ in backup] == [BACKUP]
    assert "ESCALATED" in backup[0][1]
    clock.advance(hours=5)
    assert sent.step(clock()) == []  # the escalation ladder ends there


def test_a_claimed_alert_is_not_resent(
    app: Any, phone: Phone, sent: Simulated, clock: Clock
) -> None:
    emergency(phone)
    ref = ref_of(sent.step(clock())[0][1])
    Phone(app.test_client(), ON_CALL[0]).send(f"ACK {ref}")
    sent.step(clock())
    clock.advance(minutes=30)
    assert sent.step(clock()) == []


def test_timers_live_in_redis_and_survive_a_restart(
    runtime: Runtime, phone: Phone, clock: Clock
) -> None:
    emergency(phone)
    assert runtime.redis.zcard(keys.ALERT_TIMERS) == 1
    clock.advance(minutes=10)
    fresh = Background.console(runtime)  # a new process: nothing but what Redis holds
    assert len([to for to, _ in fresh.step(clock()) if to in ON_CALL]) == 4  # initial + re-send


def test_leads_and_callbacks_go_to_the_first_on_call_number_only(
    phone: Phone, sent: Simulated, clock: Clock
) -> None:
    phone.send("hi")
    phone.send("CALL")
    out = sent.step(clock())
    assert [to for to, _ in out] == [ON_CALL[0]]
    assert "CALLBACK" in out[0][1]
    clock.advance(minutes=30)
    assert sent.step(clock()) == []  # only emergency/urgent alerts re-escalate


def test_staff_numbers_never_enter_the_questionnaire(app: Any) -> None:
    staff = Phone(app.test_client(), ON_CALL[0])
    staff.send("hi")
    assert "ACK <ref>" in staff.last_reply and "Y or N" not in staff.last_reply
    staff.send("ACK ZZZZ")
    assert "No alert ZZZZ" in staff.last_reply


def test_alerts_carry_no_symptoms(phone: Phone, sent: Simulated, clock: Clock) -> None:
    phone.send("hi")
    phone.send("yes")
    phone.send("3")
    for _, body in sent.step(clock()):
        assert "URGENT" in body
        for word in ("fever", "knee", "swollen", "chills", "pain"):
            assert word not in body.lower()
