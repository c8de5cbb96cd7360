"""The corpus of realistic texts (tests/corpus/*.yaml) read through the understanding step."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import Config
from bot.core.language import prepare
from bot.core.understanding import Reading, understand

CORPUS = Path(__file__).parent / "corpus"
TODAY = date(2026, 12, 1)


def cases() -> list[Any]:
    out = []
    for path in sorted(CORPUS.glob("*.yaml")):
        for i, case in enumerate(yaml.safe_load(path.read_text(encoding="utf-8")) or []):
            out.append(pytest.param(case, id=f"{path.stem}[{i}] {case['text'][:40]}"))
    return out


def read(config: Config, case: dict[str, Any]) -> Reading:
    lang = case.get("lang", "en")  # each language's questionnaire words, read as the engine does
    book = config.languages.book(lang)
    question = book.flow.question(case["question"]) if case.get("question") else None
    lexicon = book.lexicons.get(lang, book.lexicons["en"])
    today = case.get("today", TODAY)  # answers_units.yaml fixes the day "since March" counts to
    return understand(prepare(case["text"], lang), question, lexicon, book.reader, keywords=book.keywords.all,
                      lang=lang, today=today)  # fmt: skip


def mismatches(reading: Reading, expect: dict[str, Any]) -> list[str]:
    """What differs from the expected reading (only the keys the case gives are checked)."""
    got: dict[str, Any] = {
        "answer": reading.answer, "error": reading.error, "flags": sorted(reading.flags),
        "confirm": reading.confirm, "callback": reading.callback, "opt_out": reading.opt_out,
    }  # fmt: skip
    wrong = [f"{k}: expected {v!r}, read {got[k]!r}" for k, v in expect.items()
             if k in got and (sorted(v) if k == "flags" else v) != got[k]]  # fmt: skip
    unaffirmed = {m.concept for m in reading.mentions if not m.affirmed}
    for concept in expect.get("not_flags", []):
        if concept in reading.flags or concept not in unaffirmed:
            wrong.append(f"not_flags: {concept} should be found but not affirmed")
    return wrong


@pytest.mark.parametrize("case", cases())
def test_corpus(config: Config, case: dict[str, Any]) -> None:
    reading = read(config, case)
    assert not mismatches(reading, case["expect"]), reading.to_json()


def test_the_spanish_corpus_is_big_enough() -> None:
    spanish = [c for p in CORPUS.glob("*.yaml") for c in yaml.safe_load(p.read_text(encoding="utf-8"))
               if c.get("lang") == "es"]  # fmt: skip
    assert len(spanish) >= 150


def test_the_corpus_is_big_enough() -> None:
    mine = [p for p in CORPUS.glob("*.yaml") if p.stem.startswith(("redflags_", "intents_"))]
    total = sum(len(yaml.safe_load(p.read_text(encoding="utf-8"))) for p in mine)
    assert total >= 170
