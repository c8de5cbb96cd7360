"""The lexicon's pattern syntax, compiled to spaCy token patterns."""

from __future__ import annotations

import pytest

from bot.core.lexicon import compile_pattern

WORDS = {"CALF": ["calf"], "LINK": ["is", "looks"], "SWOLLEN": ["swollen"]}


def test_a_gap_never_skips_a_negation_and_a_double_gap_may() -> None:
    assert compile_pattern("CALF ~3 SWOLLEN", WORDS, ["not"])[1] == {
        "LOWER": {"NOT_IN": ["not"]}, "OP": "{0,3}"}  # fmt: skip
    assert compile_pattern("CALF ~~3 SWOLLEN", WORDS, ["not"])[1] == {"OP": "{0,3}"}


def test_an_optional_word_group() -> None:
    assert compile_pattern("CALF LINK? SWOLLEN", WORDS)[1] == {
        "LOWER": {"IN": ["is", "looks"]}, "OP": "?"}  # fmt: skip


@pytest.mark.parametrize("bad", ["NOPE? SWOLLEN", "~~2 CALF", "CALF ~~2"])
def test_unknown_groups_and_edge_gaps_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        compile_pattern(bad, WORDS)
