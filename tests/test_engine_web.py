"""Web visitors have no number to call back: escalations ask for one first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.config import Config
from bot.core.engine import advance
from bot.core.model import Alert, Inbound, Patient, Step

NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)


def chat(config: Config, *texts: str) -> tuple[Patient, list[Step]]:
    patient = Patient("web:abc123")
    steps = []
    for text in texts:
        step = advance(patient, Inbound(text, "web"), config.playbook, NOW)
        steps.append(step)
        patient = step.patient
    return patient, steps


def test_emergency_on_the_web_alerts_at_once_then_asks_for_a_number(config: Config) -> None:
    _, steps = chat(config, "hi", "yes", "1")
    templates = [r.template for r in steps[-1].replies]
    assert templates == ["outcome_emergency", "ask_callback_number"]
    # Staff hear at once, even if the visitor never types a number.
    assert [e for e in steps[-1].effects if isinstance(e, Alert)] == [
        Alert("emergency", "emergency_red_flag")
    ]


def test_a_lead_on_the_web_waits_for_the_number(config: Config) -> None:
    from tests.conftest import answers_with

    _, steps = chat(config, "hi", *[t for _, t in answers_with(pain_run="8")])
    assert "ask_callback_number" in [r.template for r in steps[-1].replies]
    assert not [e for e in steps[-1].effects if isinstance(e, Alert)]


def test_the_typed_number_releases_the_alert_once(config: Config) -> None:
    patient, steps = chat(config, "hi", "yes", "1", "(949) 555-0123")
    alerts = [e for e in steps[-1].effects if isinstance(e, Alert)]
    assert alerts == [Alert("emergency", "emergency_red_flag", "+19495550123")]
    assert patient.conversation.callback == "+19495550123"
    _, again = chat(config, "hi", "yes", "1", "(949) 555-0123", "HUMAN")
    assert [e for e in again[-1].effects if isinstance(e, Alert)] == [
        Alert("callback", "asked_for_human", "+19495550123")
    ]


def test_an_invalid_number_is_asked_again_and_no_declines(config: Config) -> None:
    _, steps = chat(config, "hi", "yes", "1", "555-01234")
    assert [r.template for r in steps[-1].replies] == ["callback_number_invalid"]
    patient, steps = chat(config, "hi", "yes", "1", "no")
    assert [r.template for r in steps[-1].replies] == ["callback_declined"]
    assert patient.conversation.held == ()


def test_sms_patients_are_alerted_at_once(config: Config) -> None:
    patient = Patient("+19495551234")
    for text in ("hi", "yes", "1"):
        step = advance(patient, Inbound(text), config.playbook, NOW)
        patient = step.patient
    assert [e for e in step.effects if isinstance(e, Alert)] == [
        Alert("emergency", "emergency_red_flag")
    ]


def test_web_reminders_are_confirmed_by_sms_from_that_number(runtime: Any) -> None:
    from bot import keys
    from tests.conftest import EXERCISES_PATH

    service, now = runtime.service, runtime.clock()
    web = "web:visitor42"
    service.handle_inbound(web, Inbound("hi", "web"), now)
    for _, text in EXERCISES_PATH:
        replies = service.handle_inbound(web, Inbound(text, "web"), now).replies
    assert "Type your mobile number" in replies[-1]
    assert (
        "Please type a US mobile number"
        in service.handle_inbound(web, Inbound("soon", "web"), now).replies[0]
    )
    replies = service.handle_inbound(web, Inbound("949 555 0188", "web"), now).replies
    assert "What time should we text you" in replies[0]  # the time is asked once, on the web
    replies = service.handle_inbound(web, Inbound("6:30pm", "web"), now).replies
    assert "We've texted +19495550188" in replies[0] and "6:30 pm" in replies[0]
    invite = [f for _, f in runtime.redis.xrange(keys.OUTBOX) if f["to"] == "+19495550188"]
    assert len(invite) == 1 and "at 6:30 pm" in invite[0]["body"] and "YES" in invite[0]["body"]
    # The person answers the text from their phone: that is the opt-in; no time asked again,
    # and the program comes by text, in the same message as the confirmation.
    replies = service.handle_inbound("+19495550188", Inbound("yes"), now).replies
    assert len(replies) == 1
    assert "6:30 pm" in replies[0] and "Calf release" in replies[0]
    assert replies[0].index("Calf release") < replies[0].index("You're set")
    assert runtime.store.load("+19495550188").plan["status"] == "active"


@pytest.mark.parametrize(
    "texts",
    [["(949) 555-0177 at 7:30am"], ["8am", "949.555.0177"], ["949 555 0177", "8:00"],
     ["morning", "banana", "+1 949 555 0177"]],
)  # fmt: skip
def test_web_visitors_give_the_time_once_in_any_order(runtime: Any, texts: list[str]) -> None:
    from bot import keys
    from tests.conftest import EXERCISES_PATH

    service, now = runtime.service, runtime.clock()
    web = "web:visitor77"
    for text in ("hi", *(t for _, t in EXERCISES_PATH), *texts):
        replies = service.handle_inbound(web, Inbound(text, "web"), now).replies
    assert "We've texted +19495550177" in replies[0]
    invite = [f for _, f in runtime.redis.xrange(keys.OUTBOX) if f["to"] == "+19495550177"]
    assert len(invite) == 1 and "Reply YES" in invite[0]["body"]
    replies = service.handle_inbound("+19495550177", Inbound("Yes"), now).replies
    plan = runtime.store.load("+19495550177").plan
    assert plan["time"] in ("07:30", "08:00") and "Calf release" in replies[0]
    assert runtime.store.load(web).plan is None


def test_an_opted_out_number_is_not_texted_from_the_web(runtime: Any) -> None:
    from bot import keys
    from tests.conftest import EXERCISES_PATH

    service, now = runtime.service, runtime.clock()
    service.handle_inbound("+19495550177", Inbound("STOP"), now)
    web = "web:visitor43"
    service.handle_inbound(web, Inbound("hi", "web"), now)
    for _, text in EXERCISES_PATH:
        service.handle_inbound(web, Inbound(text, "web"), now)
    service.handle_inbound(web, Inbound("(949) 555-0177", "web"), now)
    assert [f for _, f in runtime.redis.xrange(keys.OUTBOX) if f["to"] == "+19495550177"] == []


@pytest.mark.parametrize(
    ("texts", "said"),
    [(["(949) 555-0177 at 7am"], "8:00 am"), (["11pm", "949 555 0177"], "9:00 pm")],
)
def test_a_web_reminder_time_outside_the_hours_gets_the_nearest(
    runtime: Any, texts: list[str], said: str
) -> None:
    from bot import keys
    from tests.conftest import EXERCISES_PATH

    service, now = runtime.service, runtime.clock()
    web = "web:visitor78"
    for text in ("hi", *(t for _, t in EXERCISES_PATH)):
        service.handle_inbound(web, Inbound(text, "web"), now)
    replies = [
        r for t in texts for r in service.handle_inbound(web, Inbound(t, "web"), now).replies
    ]
    assert said in replies[0] and "we only text between 8:00 am and 9:00 pm" in replies[0]
    assert said in replies[-1] and "We've texted" in replies[-1]
    invite = [f for _, f in runtime.redis.xrange(keys.OUTBOX) if f["to"] == "+19495550177"]
    assert said in invite[0]["body"] and ("7:00 am" not in invite[0]["body"])
