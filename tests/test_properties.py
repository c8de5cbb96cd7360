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
FLOW = CONFIG.playbook.flow


def subsets(qid: str) -> st.SearchStrategy[list[str]]:
    ids = FLOW.question(qid).option_ids()
    return st.lists(st.sampled_from(ids), unique=True, max_size=len(ids))


def one_of(qid: str) -> st.SearchStrategy[str]:
    return st.sampled_from(FLOW.question(qid).option_ids())


ktw = st.one_of(
    st.just({"skipped": True}),
    st.builds(
        lambda a, b: {"left": a / 10, "right": b / 10}, st.integers(0, 300), st.integers(0, 300)
    ),
)
answer_sets = st.fixed_dictionaries(
    {
        "consent": st.just(True), "red_flags": subsets("red_flags"), "age": st.integers(5, 110),
        "injury": st.booleans(), "injury_signs": subsets("injury_signs"),
        "mechanical": one_of("mechanical"), "systemic": subsets("systemic"),
        "location": one_of("location"), "pain_rest": st.integers(0, 10),
        "pain_run": st.integers(0, 10), "settles": st.booleans(), "duration": one_of("duration"),
        "calf_stiff": st.booleans(), "ktw": ktw,
    }
)  # fmt: skip


def has_red_flag(answers: dict[str, Any]) -> bool:
    return any(FLOW.question(q).is_red_flag(v) for q, v in answers.items() if q in FLOW.questions)


def test_the_red_flag_check_is_not_vacuous() -> None:
    assert has_red_flag({"red_flags": ["calf_swollen_warm"]})
    assert has_red_flag({"mechanical": "locks"})
    assert not has_red_flag({"red_flags": [], "mechanical": "gives_way"})


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
    """What a person types for an answer: menu numbers for option ids."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return " ".join(str(number_of(qid, v)) for v in value) or "0"
    if isinstance(value, dict):
        return "skip" if value.get("skipped") else f"L {value['left']} R {value['right']}"
    if isinstance(value, str):
        return str(number_of(qid, value))
    return str(value)


def number_of(qid: str, option_id: str) -> int:
    return next(o.number for o in FLOW.question(qid).options if o.id == option_id)


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
