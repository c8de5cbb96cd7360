"""Which of the clinic's languages a text is in: lingua (made for short texts), kept cautious.

One-word texts ("hi", "no", "ok", "dolor") are too short for any statistical detector: they
decide only through each language's `hint_words` in clinic.yaml ("hola", "ayuda"). Longer texts
decide when lingua, restricted to the configured languages, is confident; else None (the
default language answers, and the next message is tried again).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

from bot.core.options import fold

MIN_CONFIDENCE = 0.8


@lru_cache(maxsize=8)
def _detector(codes: tuple[str, ...]) -> LanguageDetector:
    languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in codes]
    return (
        LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models().build()
    )


def _said(text: str) -> str:
    return " ".join(re.findall(r"[a-z]+", fold(text.lower())))


def detector(hints: Mapping[str, tuple[str, ...]]) -> Callable[[str], str | None]:
    """detect(text) -> a language code of `hints` (code -> hint words), or None when unsure."""
    codes = tuple(sorted(hints))
    table = {_said(w): code for code, words in hints.items() for w in words}

    def detect(text: str) -> str | None:
        said = _said(text)
        if said in table:
            return table[said]
        words = [w for w in said.split() if len(w) >= 2]
        if len(codes) < 2 or len(words) < 2:
            return None
        best = _detector(codes).compute_language_confidence_values(" ".join(words))[0]
        if best.value < MIN_CONFIDENCE:
            return None
        return str(best.language.iso_code_639_1.name.lower())

    return detect


def preload(hints: Mapping[str, tuple[str, ...]]) -> None:
    """Build the models now (about 0.3 s) rather than on the first text that needs them."""
    codes = tuple(sorted(hints))
    if len(codes) > 1:
        _detector(codes)
