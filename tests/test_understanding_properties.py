"""Property: an affirmed red-flag phrasing from the lexicon, in any filler, at any step, never
ends in the exercise outcome (and always tells staff)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Config
from bot.core.engine import advance
from bot.core.model import Alert, Conversation, Inbound, Patient
from bot.settings import ROOT
from tests.conftest import EXERCISES_PATH

NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
FILLER = ["ok", "so", "hi", "hey", "well", "anyway", "thanks", "lol", "update", "quick",
          "question", "my", "knee", "is", "sore", "today", "morning", "run", "and", "also",
          "really", "um", "sorry", "to", "bother", "you", "this", "week", "👍", "!!", "?"]  # fmt: skip
STEPS = [None, *(qid for qid, _ in EXERCISES_PATH), "done", "reminder_offer"]


def _config() -> Config:
    from bot.config import load_config

    return load_config(ROOT / "config")


CONFIG = _config()
LEXICON = CONFIG.playbook.lexicons["en"]
PHRASES = [(c.id, p) for c in LEXICON.concepts if c.red_flag for p in c.phrases]


def patient_at(step: str | None) -> Patient:
    answers = {}
    for qid, text in EXERCISES_PATH:
        if qid == step:
            break
        answers[qid] = CONFIG.playbook.flow.question(qid).parse(text)
    conv = Conversation(step=step, answers=answers, started_at=NOW, last_at=NOW)
    return Patient("+19495550123", conversation=conv)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    phrase=st.sampled_from(PHRASES),
    before=st.lists(st.sampled_from(FILLER), max_size=6),
    after=st.lists(st.sampled_from(FILLER), max_size=6),
    sep=st.sampled_from([" ", ". ", ", ", "! ", "\n"]),
    step=st.sampled_from(STEPS),
)
def test_a_red_flag_in_any_filler_at_any_step_never_ends_in_exercises(
    phrase: tuple[str, str], before: list[str], after: list[str], sep: str, step: str | None
) -> None:
    text = sep.join(part for part in (" ".join(before), phrase[1], " ".join(after)) if part)
    result = advance(patient_at(step), Inbound(text), CONFIG.playbook, NOW)
    assert result.patient.conversation.outcome not in ("exercises", None), text
    assert any(isinstance(e, Alert) for e in result.effects), text
