"""Typo tolerance is conservative: real words are never read as yes/no or keywords (measured)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_config
from bot.core.answers import TYPO_YES_NO, parse_yes_no
from bot.core.typos import _slips, english_words, is_english_word, typo_of
from bot.errors import AnswerError

KW = load_config(Path(__file__).parent.parent / "config").playbook.keywords
KEYWORDS = KW.all


@pytest.mark.parametrize(
    ("slip", "meant"),
    [("stpo", "stop"), ("sotp", "stop"), ("stopp", "stop"), ("hlep", "help"), ("cancle", "cancel"),
     ("unsubscibe", "unsubscribe"), ("qiut", "quit"), ("strat", "start"), ("dnoe", "done")],
)  # fmt: skip
def test_slips_of_keywords_are_read(slip: str, meant: str) -> None:
    assert KW.spelled(slip) == meant


@pytest.mark.parametrize("word", ["step", "shop", "stoop", "spot", "helm", "hello", "done", "tone"])
def test_real_words_stay_themselves(word: str) -> None:
    assert KW.spelled(word) == word


def test_no_dictionary_word_one_slip_from_a_keyword_or_yes_no_is_read_as_one() -> None:
    """Every real English word a single slip away from a target keeps its own meaning."""
    real = english_words()
    for targets, subs in ((KEYWORDS, False), (frozenset(TYPO_YES_NO), True)):
        near = {w for t in targets for w in _slips(t, subs)} & real
        assert near, "the check must meet real words to mean anything"
        misread = sorted(w for w in near - targets if typo_of(w, targets, substitutions=subs))
        assert misread == []


@pytest.mark.parametrize("word", ["yws", "yse", "yess", "yesss", "okya", "yeahh"])
def test_slips_of_yes(word: str) -> None:
    assert parse_yes_no(word) is True


@pytest.mark.parametrize("word", ["nopw", "nopee", "npoe"])
def test_slips_of_nope(word: str) -> None:
    assert parse_yes_no(word) is False


@pytest.mark.parametrize("word", ["yet", "yrs", "eyes", "nose", "note", "sore", "step"])
def test_near_words_are_asked_again(word: str) -> None:
    with pytest.raises(AnswerError):
        parse_yes_no(word)


def test_the_word_check_knows_real_words_and_not_slips() -> None:
    assert all(is_english_word(w) for w in ("step", "shop", "stoop", "knee", "yet"))
    assert not any(is_english_word(w) for w in ("stpo", "yws", "kneecpa", "nopw"))
