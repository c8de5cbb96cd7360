"""Every row of the triage table, with its boundaries, through the rules and the engine."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.config import Config
from bot.core.engine import advance
from bot.core.model import Inbound, Patient
from tests.conftest import answers_with

NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)


def converse(
    config: Config, path: list[tuple[str, str]]
) -> tuple[str | None, str | None, list[str]]:
    """Text the answers in order (skipping questions the bot doesn't ask); outcome, rule, asked."""
    patient = Patient("+19495551234")
    patient = advance(patient, Inbound("hi"), config.playbook, NOW).patient
    asked: list[str] = []
    answers = dict(path)
    outcome_rule: tuple[str | None, str | None] = (None, None)
    while patient.conversation.in_questionnaire:
        qid = patient.conversation.step or ""
        asked.append(qid)
        step = advance(patient, Inbound(answers[qid]), config.playbook, NOW)
        for effect in step.effects:
            if type(effect).__name__ == "TriageFinished":
                outcome_rule = (effect.outcome.level, effect.outcome.rule)  # type: ignore[attr-defined]
        patient = step.patient
    return outcome_rule[0], outcome_rule[1], asked


def rules_outcome(config: Config, **texts: str) -> Any:
    flow = config.playbook.flow
    answers = {qid: flow.question(qid).parse(text) for qid, text in texts.items()}
    return config.playbook.rules.evaluate(answers)


CASES = [
    # emergency: red_flags has 1 or 4
    ({"red_flags": "1"}, "emergency"), ({"red_flags": "4"}, "emergency"), ({"red_flags": "2 4"}, "emergency"),
    # urgent
    ({"red_flags": "2"}, "urgent"), ({"red_flags": "3"}, "urgent"), ({"red_flags": "2 3"}, "urgent"),
    ({"injury": "yes", "injury_signs": "1"}, "urgent"), ({"injury": "yes", "injury_signs": "5"}, "urgent"),
    ({"injury": "yes", "injury_signs": "0", "age": "55"}, "urgent"),
    ({"injury": "yes", "injury_signs": "0", "age": "54"}, "exercises"),
    ({"injury": "no", "age": "70"}, "exercises"),
    ({"mechanical": "1"}, "urgent"), ({"systemic": "1"}, "urgent"), ({"systemic": "1 2"}, "urgent"),
    # priority call
    ({"systemic": "2"}, "priority_call"), ({"systemic": "3"}, "priority_call"), ({"systemic": "4"}, "priority_call"),
    # book a call
    ({"mechanical": "2"}, "book_call"), ({"location": "4"}, "book_call"), ({"location": "7"}, "book_call"),
    ({"location": "3"}, "exercises"),
    ({"pain_run": "6"}, "book_call"), ({"pain_run": "5"}, "exercises"),
    ({"pain_rest": "5"}, "book_call"), ({"pain_rest": "4"}, "exercises"),
    ({"settles": "no"}, "book_call"), ({"duration": "4"}, "book_call"), ({"duration": "3"}, "exercises"),
    ({"age": "17"}, "book_call"), ({"age": "18"}, "exercises"),
    ({"ktw": "L 10 R 11.9"}, "book_call"), ({"ktw": "L 9.9 R 11"}, "exercises"),
    ({"ktw": "L 10 R 12"}, "exercises"), ({"ktw": "L 12 R 10.1"}, "book_call"),
    ({"ktw": "12"}, "book_call"), ({"ktw": "9.9"}, "exercises"),
    ({"ktw": "skip", "calf_stiff": "no"}, "book_call"), ({"ktw": "skip", "calf_stiff": "yes"}, "exercises"),
    ({"ktw": "L 12 R 12", "calf_stiff": "yes"}, "book_call"),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "expected"), CASES)
def test_rule_table(config: Config, changes: dict[str, str], expected: str) -> None:
    path = answers_with(**changes)
    if "injury_signs" in changes:
        path.insert(4, ("injury_signs", changes["injury_signs"]))
    outcome, _, _ = converse(config, path)
    assert outcome == expected
    asked = dict(path)
    if outcome in ("book_call", "exercises"):
        assert rules_outcome(config, **asked).level == expected


def test_red_flag_ends_the_questionnaire_at_once(config: Config) -> None:
    outcome, rule, asked = converse(config, answers_with(red_flags="1 3"))
    assert (outcome, rule) == ("emergency", "emergency_red_flag")
    assert asked == ["consent", "red_flags"]


def test_injury_signs_only_after_an_injury(config: Config) -> None:
    _, _, asked = converse(config, answers_with(injury="no"))
    assert "injury_signs" not in asked
    path = answers_with(injury="yes")
    path.insert(4, ("injury_signs", "0"))
    _, _, asked = converse(config, path)
    assert asked[asked.index("injury") + 1] == "injury_signs"


def test_book_call_waits_for_the_last_question(config: Config) -> None:
    outcome, _, asked = converse(config, answers_with(pain_run="9"))
    assert outcome == "book_call"
    assert asked[-1] == "ktw"


def test_reasons_are_reported(config: Config) -> None:
    outcome = rules_outcome(config, red_flags="0", pain_run="7", settles="no")
    assert outcome.level == "book_call"
    assert outcome.rule == "book_evaluation"
    assert any("6/10" in r for r in outcome.reasons)
    assert any("next morning" in r for r in outcome.reasons)
