"""Typo tolerance for single words: a misspelt yes, keyword or option word, never a real word.

Conservative by construction (tests/test_typos.py proves no English dictionary word is read as
a yes/no word or a keyword): the word keeps the intended word's first letter (or swaps the first
two), is at least 3 letters long and differs by one slip of the thumb: two neighbouring letters
swapped, a letter repeated, a letter left out of a long word, or (where allowed) one letter
replaced by a key next to it. Long option words (8+ letters) may differ by two such slips. When
two candidates are equally close the word is not read at all.
"""

from __future__ import annotations

import re
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Mapping
from functools import lru_cache

from english_words import get_english_words_set
from rapidfuzz.distance import OSA

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS: dict[str, set[str]] = {}
for _r, _row in enumerate(_ROWS):
    for _c, _key in enumerate(_row):
        _NEIGHBOURS[_key] = {
            _ROWS[r][c]
            for r in (_r - 1, _r, _r + 1)
            if 0 <= r < len(_ROWS)
            for c in (_c - 1, _c, _c + 1)
            if 0 <= c < len(_ROWS[r]) and (r, c) != (_r, _c)
        }


def squeeze(word: str) -> str:
    """'yesss' -> 'yes', 'noooo' -> 'no': a held key is not a different word."""
    return re.sub(r"(.)\1+", r"\1", word)


def _slips(target: str, substitutions: bool) -> set[str]:
    """Every one-slip misspelling of `target` that keeps its first letter (or swaps the first two)."""
    out = {target[:i] + target[i + 1] + target[i] + target[i + 2 :] for i in range(len(target) - 1)}
    for i, c in enumerate(target):
        for near in (c, *_NEIGHBOURS.get(c, ())):
            out.add(target[:i] + near + target[i:])  # an extra key next to where it landed
            out.add(target[: i + 1] + near + target[i + 1 :])
        if len(target) >= 5 and i > 0:
            out.add(target[:i] + target[i + 1 :])  # a letter left out of a long word
        if substitutions and i > 0:
            out.update(target[:i] + near + target[i + 1 :] for near in _NEIGHBOURS.get(c, ()))
    return {w for w in out if len(w) >= 3 and w != target and w.isalpha()}


def english_words() -> frozenset[str]:
    """Real English words (lower case) from the english-words package (web2 and GCIDE lists)."""
    return frozenset(get_english_words_set(["web2", "gcide"], lower=True, alpha=True))


@lru_cache(maxsize=1)
def _word_hashes() -> array[int]:
    """CRC-32s of the real words, sorted: 1 MB instead of the word set's 50 (a collision only
    makes a typo look real, so it is left unread: the safe side)."""
    return array("I", sorted({zlib.crc32(w.encode()) for w in english_words()}))


def is_english_word(word: str) -> bool:
    hashes, key = _word_hashes(), zlib.crc32(word.encode())
    i = bisect_left(hashes, key)
    return i < len(hashes) and hashes[i] == key


@lru_cache(maxsize=256)
def typo_table(candidates: frozenset[str], substitutions: bool = False) -> Mapping[str, str]:
    """Misspelling -> the one candidate it is a slip of (slips of two candidates are left out)."""
    claimed: dict[str, set[str]] = {}
    for target in candidates:
        for slip in _slips(target, substitutions):
            claimed.setdefault(slip, set()).add(target)
    return {
        slip: next(iter(targets))
        for slip, targets in claimed.items()
        if len(targets) == 1 and slip not in candidates and not is_english_word(slip)
    }


def typo_of(word: str, candidates: frozenset[str], *, substitutions: bool = False) -> str | None:
    """The one candidate `word` is a plausible slip of (the word itself when exact), else None."""
    if word in candidates:
        return word
    if len(word) < 3 or not word.isalpha() or is_english_word(word):
        return None
    if found := typo_table(candidates, substitutions).get(word):
        return found
    squeezed = {c for c in candidates if squeeze(c) == squeeze(word)}
    if len(squeezed) == 1:
        return squeezed.pop()
    close = {c for c in candidates if len(c) >= 8 and _two_slips(word, c)}
    return close.pop() if len(close) == 1 else None


def _two_slips(word: str, target: str) -> bool:
    return word[0] == target[0] and OSA.distance(word, target, score_cutoff=2) <= 2
