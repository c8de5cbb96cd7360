"""Property, in Spanish: an affirmed red-flag phrasing from the Spanish lexicon, in Spanish filler,
at any step, never ends in the exercise outcome and always tells staff."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.language import advance_in
from bot.core.model import Alert, Inbound
from tests.test_understanding_properties import CONFIG, NOW, STEPS, patient_at

FILLER = ["ok", "pues", "hola", "oiga", "bueno", "gracias", "jaja", "oye", "una", "pregunta",
          "mi", "rodilla", "anda", "adolorida", "hoy", "en", "la", "manana", "corri", "y", "tambien",
          "la", "verdad", "perdon", "que", "lo", "moleste", "esta", "semana", "👍", "!!", "?"]  # fmt: skip
PHRASES = [(c.id, p) for c in CONFIG.playbook.lexicons["es"].concepts if c.red_flag
           for p in c.phrases]  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    phrase=st.sampled_from(PHRASES),
    before=st.lists(st.sampled_from(FILLER), max_size=6),
    after=st.lists(st.sampled_from(FILLER), max_size=6),
    sep=st.sampled_from([" ", ". ", ", ", "! ", "\n"]),
    step=st.sampled_from(STEPS),
)
def test_a_spanish_red_flag_in_any_filler_at_any_step_never_ends_in_exercises(
    phrase: tuple[str, str], before: list[str], after: list[str], sep: str, step: str | None
) -> None:
    text = sep.join(part for part in (" ".join(before), phrase[1], " ".join(after)) if part)
    patient = replace(patient_at(step), lang="es")
    result = advance_in(patient, Inbound(text), CONFIG.languages, NOW)
    assert result.patient.conversation.outcome not in ("exercises", None), text
    assert any(isinstance(e, Alert) for e in result.effects), text
