"""The answers part of the corpus (tests/corpus/answers_*.yaml) read through Question.parse."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import load_config
from bot.core.language import prepare
from bot.errors import AnswerError

CORPUS = Path(__file__).parent / "corpus"
TODAY = date(2026, 12, 1)
LANGUAGES = load_config(Path(__file__).parent.parent / "config").languages


def _cases() -> list[Any]:
    cases = []
    for path in sorted(CORPUS.glob("answers_*.yaml")):
        for i, case in enumerate(yaml.safe_load(path.read_text(encoding="utf-8"))):
            cases.append(pytest.param(case, id=f"{path.stem}[{i}] {case['text'][:40]}"))
    return cases


def test_the_corpus_is_big_enough() -> None:
    assert len(_cases()) >= 150


@pytest.mark.parametrize("case", _cases())
def test_answer(case: dict[str, Any]) -> None:
    lang = case.get("lang", "en")  # each language's words, read as the conversation reads them
    question = LANGUAGES.book(lang).flow.question(case["question"])
    text = prepare(case["text"], lang)
    expect = case["expect"]
    today = case.get("today", TODAY)
    if "error" in expect:
        with pytest.raises(AnswerError) as caught:
            question.parse(text, today=today)
        assert str(caught.value) == expect["error"]
    else:
        assert question.parse(text, today=today) == expect["answer"]
