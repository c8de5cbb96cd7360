"""Property, per language: an affirmed red-flag phrasing from that language's lexicon, in that
language's filler, at any step, never ends in the exercise outcome (and always tells staff)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Config
from bot.core.language import advance_in
from bot.core.model import Alert, Conversation, Inbound, Patient
from bot.settings import ROOT
from tests.conftest import EXERCISES_PATH

NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
FILLER = {
    "en": ["ok", "so", "hi", "hey", "well", "anyway", "thanks", "lol", "update", "quick",
           "question", "my", "knee", "is", "sore", "today", "morning", "run", "and", "also",
           "really", "um", "sorry", "to", "bother", "you", "this", "week", "👍", "!!", "?"],
    "es": ["ok", "pues", "hola", "oiga", "bueno", "gracias", "jaja", "oye", "una", "pregunta",
           "mi", "rodilla", "anda", "adolorida", "hoy", "en", "la", "manana", "corri", "y",
           "tambien", "la", "verdad", "perdon", "que", "lo", "moleste", "esta", "semana", "👍",
           "!!", "?"],
}  # fmt: skip
STEPS = [None, *(qid for qid, _ in EXERCISES_PATH), "done", "reminder_offer"]


def _config() -> Config:
    from bot.config import load_config

    return load_config(ROOT / "config")


CONFIG = _config()
PHRASES = {
    lang: [(c.id, p) for c in lexicon.concepts if c.red_flag for p in c.phrases]
    for lang, lexicon in CONFIG.playbook.lexicons.items()
}


def patient_at(step: str | None) -> Patient:
    answers = {}
    for qid, text in EXERCISES_PATH:
        if qid == step:
            break
        answers[qid] = CONFIG.playbook.flow.question(qid).parse(text)
    conv = Conversation(step=step, answers=answers, started_at=NOW, last_at=NOW)
    return Patient("+19495550123", conversation=conv)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    lang=st.sampled_from(sorted(FILLER)),
    sep=st.sampled_from([" ", ". ", ", ", "! ", "\n"]),
    step=st.sampled_from(STEPS),
)
def test_a_red_flag_in_any_filler_at_any_step_never_ends_in_exercises(
    data: st.DataObject, lang: str, sep: str, step: str | None
) -> None:
    phrase = data.draw(st.sampled_from(PHRASES[lang]))
    before = data.draw(st.lists(st.sampled_from(FILLER[lang]), max_size=6))
    after = data.draw(st.lists(st.sampled_from(FILLER[lang]), max_size=6))
    text = sep.join(part for part in (" ".join(before), phrase[1], " ".join(after)) if part)
    patient = replace(patient_at(step), lang=lang)
    result = advance_in(patient, Inbound(text), CONFIG.languages, NOW)
    assert result.patient.conversation.outcome not in ("exercises", None), text
    assert any(isinstance(e, Alert) for e in result.effects), text


def test_every_language_has_filler_and_phrases() -> None:
    assert set(FILLER) == set(PHRASES) and all(PHRASES.values())
