"""Web visitors have no number to call back: escalations ask for one first."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.config import Config
from bot.core.engine import Alert, Inbound, Patient, Step, advance

NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)


def chat(config: Config, *texts: str) -> tuple[Patient, list[Step]]:
    patient = Patient("web:abc123")
    steps = []
    for text in texts:
        step = advance(patient, Inbound(text, "web"), config.playbook, NOW)
        steps.append(step)
        patient = step.patient
    return patient, steps


def test_emergency_on_the_web_says_911_then_asks_for_a_number(config: Config) -> None:
    _, steps = chat(config, "hi", "yes", "1")
    templates = [r.template for r in steps[-1].replies]
    assert templates == ["outcome_emergency", "ask_callback_number"]
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
