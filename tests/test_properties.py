"""Properties over random answers: a red flag never reaches exercises, on every path."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import Config, load_config
from bot.core.engine import advance
from bot.core.model import Inbound, Patient, TriageFinished
from bot.settings import ROOT

CONFIG: Config = load_config(ROOT / "config")
NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
subsets = lambda n: st.lists(st.integers(1, n), unique=True, max_size=n).map(sorted)  # noqa: E731
ktw = st.one_of(
    st.just({"skipped": True}),
    st.builds(
        lambda a, b: {"left": a / 10, "right": b / 10}, st.integers(0, 300), st.integers(0, 300)
    ),
)
answer_sets = st.fixed_dictionaries(
    {
        "consent": st.just(True), "red_flags": subsets(4), "age": st.integers(5, 110),
        "injury": st.booleans(), "injury_signs": subsets(5), "mechanical": st.integers(0, 2),
        "systemic": subsets(4), "location": st.integers(1, 7), "pain_rest": st.integers(0, 10),
        "pain_run": st.integers(0, 10), "settles": st.booleans(), "duration": st.integers(1, 4),
        "calf_stiff": st.booleans(), "ktw": ktw,
    }
)  # fmt: skip


def has_red_flag(answers: dict[str, Any]) -> bool:
    flow = CONFIG.playbook.flow
    return any(flow.question(q).is_red_flag(v) for q, v in answers.items() if q in flow.questions)


@settings(max_examples=400, deadline=None)
@given(answer_sets)
def test_rules_never_give_exercises_to_a_red_flag(answers: dict[str, Any]) -> None:
    if not answers["injury"]:
        answers.pop("injury_signs")
    outcome = CONFIG.playbook.rules.evaluate(answers)
    assert outcome is not None
    if has_red_flag(answers):
        assert outcome.level != "exercises"


def as_text(qid: str, value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return " ".join(map(str, value)) or "0"
    if isinstance(value, dict):
        return "skip" if value.get("skipped") else f"L {value['left']} R {value['right']}"
    return str(value)


@settings(max_examples=300, deadline=None)
@given(answer_sets)
def test_conversations_never_give_exercises_to_a_red_flag(answers: dict[str, Any]) -> None:
    patient = advance(Patient("+19495551234"), Inbound("hello"), CONFIG.playbook, NOW).patient
    given_answers: dict[str, Any] = {}
    finished = None
    while patient.conversation.in_questionnaire:
        qid = patient.conversation.step or ""
        given_answers[qid] = answers[qid]
        step = advance(patient, Inbound(as_text(qid, answers[qid])), CONFIG.playbook, NOW)
        finished = next((e for e in step.effects if isinstance(e, TriageFinished)), finished)
        patient = step.patient
    assert finished is not None
    assert finished.outcome.level in (
        "emergency",
        "urgent",
        "priority_call",
        "book_call",
        "exercises",
    )
    if has_red_flag(given_answers):
        assert finished.outcome.level != "exercises"
        assert "exercise" not in " ".join(r.template for r in step.replies)
