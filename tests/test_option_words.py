"""Every label and synonym in config is understood, in filler, and never when negated."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from bot.config import load_config
from bot.core.flow import Question
from bot.errors import AnswerError
from bot.settings import ROOT

FLOW = load_config(ROOT / "config").playbook.flow
MENUS = [q for q in FLOW.questions.values() if q.kind in ("single", "multi")]
WRAPS = ("{}", "{}.", "I think {}", "my {} thanks", "Mostly {}!", "um {} i guess")
PHRASES = [
    pytest.param(q, o.id, p, id=f"{q.id}:{p}")
    for q in MENUS
    for o in q.options
    if o.number != 0
    for p in (o.label, *o.synonyms)
]


def picks(q: Question, text: str) -> list[str]:
    value: Any = q.parse(text)
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize(("q", "option", "phrase"), PHRASES)
def test_each_phrase_picks_its_option_in_filler(q: Question, option: str, phrase: str) -> None:
    for wrap in WRAPS:
        assert picks(q, wrap.format(phrase)) == [option], wrap.format(phrase)


@pytest.mark.parametrize(("q", "option", "phrase"), PHRASES)
def test_a_negated_phrase_never_picks_its_option(q: Question, option: str, phrase: str) -> None:
    for text in (f"no {phrase}", f"I don't have {phrase}", f"never {phrase}"):
        with contextlib.suppress(AnswerError):  # asked again is fine, never the negated option
            assert option not in picks(q, text), text


@pytest.mark.parametrize(
    ("q", "words", "value"),
    [(q, w, side) for q in FLOW.questions.values() if q.kind == "yes_no"
     for side, ws in ((True, q.yes_words), (False, q.no_words)) for w in ws],
)  # fmt: skip
def test_yes_no_words_answer_their_side(q: Question, words: str, value: bool) -> None:
    assert q.parse(words) is value
    assert q.parse(f"well, {words}") is value
