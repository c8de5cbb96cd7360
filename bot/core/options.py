"""Menu options typed as words: labels and synonyms from config, typos, negation, none, both, all.

A phrase matches when its words appear in order in the message (filler words ignored, a
misspelt word read through typos.typo_of); longer phrases win over the shorter ones they contain
("under the kneecap" beats "kneecap"). A phrase after "no", "not", "never", "without" in the
same clause is negated: it is not picked, and only when every option is negated does the
message mean none.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from bot.core.typos import typo_of

FILLER = frozenset(
    [
        "a", "an", "area", "at", "bit", "bits", "i", "im", "in", "is", "it", "its", "kind",
        "like", "mainly", "me", "mostly", "my", "of", "ok", "okay", "on", "only", "part", "please",
        "pls", "really", "so", "sort", "spot", "thank", "thanks", "that", "the", "to", "uh", "um",
        "very", "well", "you",
        # Spanish (accents folded before matching)
        "el", "la", "los", "las", "lo", "de", "del", "en", "mi", "mis", "me", "es", "esta",
        "muy", "por", "favor", "gracias", "que", "le", "se", "un", "una", "al", "pues", "este",
    ]
)  # fmt: skip
NEGATORS = frozenset(
    [
        "arent", "didnt", "doesnt", "dont", "hasnt", "havent", "isnt", "neither", "never", "no",
        "none", "nor", "not", "nothing", "wasnt", "without", "zero",
        "sin", "ni", "nunca", "tampoco", "ningun", "ninguno", "ninguna", "nada", "jamas",
    ]
)  # fmt: skip
CLAUSE_BREAKS = frozenset(
    [
        "!", ",", ".", ";", "?", "although", "and", "but", "except", "however", "though", "yet",
        "pero", "aunque", "excepto", "sino", "y", "salvo",
    ]
)  # fmt: skip
CARRY_NEGATION = frozenset(
    [
        "any", "feel", "felt", "get", "got", "had", "has", "have", "nor", "or",
        "tengo", "tiene", "tuve", "hay", "siento", "senti", "o", "he", "tenido",
    ]
)  # fmt: skip
NONE_PHRASES = (
        "none", "nothing", "neither", "nope", "nah", "zero", "none of them", "none of these",
        "none of those", "none of the above", "nothing like that", "not any", "no none", "n/a", "na",
        "none apply", "neither one", "neither of them", "neither of those", "all good", "no",
)  # fmt: skip
NONE_CONTEXT = frozenset(
    ["any", "those", "these", "them", "all", "above", "have", "got", "really", "thankfully",
     "luckily", "fortunately", "currently", "now", "today", "apply", "applies", "to", "thats",
     "none", "nope", "nah", "nada", "good", "fine", "god", "at", "whatsoever", "both", "one",
     "single", "thing"]
)  # fmt: skip
SPELLED_SMALL = {
        "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
        "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
}  # fmt: skip


UNSURE = re.compile(
    r"\b(?:not sure|unsure|idk|i dont know|dont know|no idea|dunno|not certain|maybe|perhaps"
    r"|possibly|might be|could be"
    r"|no lo se|no se (?:si|bien|que|cual)|no estoy segur[oa]|ni idea|quizas?|tal vez|a lo mejor"
    r"|puede ser)\b|^no se$"
)


def fold(text: str) -> str:
    """Accents and ñ to plain letters ('rótula' -> 'rotula'): phrases match however typed."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words_of(text: str) -> list[str]:
    """Lower-case words and clause punctuation as separate tokens: 'knee, not calf' -> 4 tokens."""
    text = fold(text.lower()).replace("’", "'").replace("'", "")
    text = re.sub(r"(?<=\d)(?=[a-z])|(?<=[a-z])(?=\d)", " ", text)
    return re.findall(r"\d+(?:\.\d+)?|[a-z][a-z'/]*|[,.;!?+-]", text)


@lru_cache(maxsize=4096)
def phrase_words(phrase: str) -> tuple[str, ...]:
    """The words of a phrase that must be matched: filler dropped, small numbers as digits."""
    return tuple(SPELLED_SMALL.get(w, w) for w in words_of(phrase) if w not in FILLER)


@dataclass(frozen=True)
class Hit:
    option: str
    start: int  # token indices in the message, end exclusive
    end: int
    negated: bool


@lru_cache(maxsize=256)
def vocabulary(phrases: tuple[tuple[str, ...], ...]) -> frozenset[str]:
    return frozenset(w for p in phrases for w in p if w.isalpha() and len(w) >= 4)


def _spell(word: str, vocab: frozenset[str]) -> str:
    word = SPELLED_SMALL.get(word, word)
    if word in vocab or len(word) < 4 or not word.isalpha():
        return word
    return typo_of(word, vocab, substitutions=len(word) >= 6) or word


def find(tokens: Sequence[str], phrases: Sequence[tuple[str, tuple[str, ...]]]) -> list[Hit]:
    """Every (option id, phrase words) that occurs, longest first, each token used once."""
    vocab = vocabulary(tuple(p for _, p in phrases))
    spelled = [_spell(t, vocab) for t in tokens]
    content = [i for i, t in enumerate(spelled) if t not in FILLER]
    used: set[int] = set()
    hits: list[Hit] = []
    starts: dict[str, list[int]] = {}
    for k, i in enumerate(content):
        starts.setdefault(spelled[i], []).append(k)
    for option, words in sorted(phrases, key=lambda p: -len(p[1])):
        for k in starts.get(words[0], []) if words else []:
            span = _occurrence(spelled, content[k:], words, used)
            if span is None:
                continue
            used.update(span)
            start = span[0]
            if start > 0 and tokens[start - 1] in SPELLED_SMALL and tokens[start - 1] != "zero":
                start -= 1  # "one calf is swollen": a determiner, not menu number 1
                used.add(start)
            hits.append(Hit(option, start, span[-1] + 1, False))
    inside = {i for h in hits for i in range(h.start, h.end)}
    found = [Hit(h.option, h.start, h.end,
                 _negated(spelled, h.start, inside) or _answered_no(spelled, h.end)) for h in hits]  # fmt: skip
    return sorted(found, key=lambda h: h.start)


def _occurrence(
    tokens: Sequence[str], content: Sequence[int], words: Sequence[str], used: set[int]
) -> list[int] | None:
    """Token indices of `words` from content[0] on, allowing one stray word between two of them
    ('calf looks puffy'), never across a clause break or a negator."""
    span: list[int] = []
    k = 0
    for n, word in enumerate(words):
        window = content[k : k + (1 if n == 0 else 2)]
        found = next((i for i in window if tokens[i] == word and i not in used), None)
        if found is None or any(
            tokens[i] in CLAUSE_BREAKS | NEGATORS for i in window[: window.index(found)]
        ):
            return None
        span.append(found)
        k = content.index(found) + 1
    return span or None


def _negated(tokens: Sequence[str], start: int, inside: set[int]) -> bool:
    """A negator earlier in the same clause, reaching over a list of options joined by 'or'
    ("no fever, chills or numbness"); a comma ends the clause unless such a list goes on."""
    gap = 0
    for i in range(start - 1, -1, -1):
        word = tokens[i]
        if word in NEGATORS:
            return True
        listed = i - 1 in inside or tokens[i + 1] in ("or", "nor")  # "A, or B": Oxford comma
        if word == "," and listed and _or_list(tokens, start):
            continue
        if word in CLAUSE_BREAKS:
            return False
        if i in inside or word in FILLER or word in CARRY_NEGATION:
            continue
        gap += 1
        if gap > 2:
            return False
    return False


def _answered_no(tokens: Sequence[str], end: int) -> bool:
    """An option asked back and answered no: "chest pain? no", "swelling - nope"."""
    after = [*tokens[end : end + 3], "", "", ""]
    no = after[1] in NEGATORS or after[1] in ("nope", "nah")
    return after[0] in ("?", ":", "-") and no and after[2] not in NOT_AN_ANSWER


NOT_AN_ANSWER = frozenset(["idea", "doubt", "clue", "wonder", "joke", "kidding"])  # "no idea why"


def _or_list(tokens: Sequence[str], at: int) -> bool:
    """An 'or'/'nor' in the clause around `at` (commas don't end it here)."""
    breaks = CLAUSE_BREAKS - {","}
    lo = max((i for i in range(at) if tokens[i] in breaks), default=-1)
    hi = min((i for i in range(at, len(tokens)) if tokens[i] in breaks), default=len(tokens))
    return any(t in ("or", "nor") for t in tokens[lo + 1 : hi])


def says_none(text_words: Sequence[str]) -> bool:
    """'no to all', "I don't have any of those", 'not really': a negator and nothing else said."""
    said = [w for w in text_words if w not in FILLER and w not in ",.;!?-"]
    if "not" in said and {"all", "both"} & set(said[said.index("not") :]):
        return False  # "not all of them" means some of them
    return (
        bool(said)
        and bool(NEGATORS.intersection(said))
        and all(w in NEGATORS or w in NONE_CONTEXT for w in said)
    )


def is_one_of(text_words: Sequence[str], phrases: Iterable[str]) -> bool:
    """The whole message (filler dropped) is one of the phrases."""
    said = tuple(w for w in text_words if w not in FILLER and w not in ",.;!?")
    return any(said == phrase_words(p) for p in phrases)
