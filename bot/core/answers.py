"""Parse what people text: yes/no, numbers, multi-select, knee-to-wall, times of day, keywords."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.core.choices import parse_choice
from bot.core.ktw import KTW_SKIP, KneeToWall, ktw_fields, parse_knee_to_wall
from bot.core.options import find, phrase_words, words_of
from bot.core.typos import is_english_word, squeeze, typo_of
from bot.core.units import TOO_BIG, UNITS, quantities, spelled_to_digits
from bot.core.units import numbers_in as _numbers_in
from bot.errors import AnswerError

__all__ = ["KTW_SKIP", "TOO_BIG", "KneeToWall", "ktw_fields", "parse_knee_to_wall"]

JSON = Any  # answers are JSON-native: bool, int, float, list[int], dict

YES = frozenset(
    [
        "y",
        "yes",
        "yeah",
        "yea",
        "yeh",
        "yas",
        "yep",
        "yup",
        "ya",
        "yah",
        "ye",
        "sure",
        "ok",
        "okay",
        "k",
        "correct",
        "right",
        "true",
        "affirmative",
        "definitely",
        "absolutely",
        "👍",
        "si",
        "sí",
        "oui",
    ]
)
NO = frozenset(
    ["n", "no", "nope", "nah", "nay", "negative", "false", "never", "not", "no", "way", "nada"]
)
YES_PHRASES = ("i do", "it did", "it does", "i am", "yes please", "of course", "i think so")
NO_PHRASES = ("i don't", "i dont", "it didn't", "it didnt", "no it", "not really", "i do not",
              "mejor no", "ahora no", "por ahora no", "todavia no", "aun no", "ahorita no")  # fmt: skip
NONE_WORDS = frozenset(
    ["none", "nothing", "neither", "nil", "zero", "0", "no", "nope", "nah", "n", "na", "n/a"]
)
# Spelled numbers, for telling a menu-only reply ("one and three") from free text at a glance;
# reading them is text2num's job (units.spelled_to_digits).
_UNITS = {
    "zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """Unicode-normalize, drop control and direction marks, collapse white space."""
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub(" ", text)
    return " ".join(text.split())


def normalize(text: str) -> str:
    """Lower case, punctuation to spaces (keeping digits, '.', '/' and ':'), single spaces."""
    text = clean(text).lower().replace("’", "'")
    text = re.sub(r"[^\w\s./:'👍-]", " ", text)
    text = re.sub(r"(?<!\d)[./:]|[./:](?!\d)", " ", text)
    return " ".join(text.split())


def keyword_of(text: str) -> str | None:
    """The single word of a one-word message (case and punctuation insensitive), else None."""
    words = re.sub(r"[^\w\s]", "", clean(text).lower()).split()  # OPT-OUT is OPTOUT
    return words[0] if len(words) == 1 else None


def words_to_numbers(text: str) -> str:
    """Replace spelled numbers ('forty five', 'seven') by digits (text2num)."""
    return spelled_to_digits(text)


def numbers_in(text: str) -> list[float]:
    return _numbers_in(words_to_numbers(normalize(text)))


UNSURE = ("not sure", "unsure", "idk", "i dont know", "i don't know", "dont know", "don't know",
          "no idea", "maybe", "perhaps", "dunno", "never mind", "nevermind", "not certain",
          "i'm not sure", "im not sure", "possibly", "kind of", "kinda", "sort of",
          "no lo se", "no se si", "no se bien", "no se que", "no se cual", "no estoy seguro",
          "no estoy segura",
          "ni idea", "quizas", "quizás", "quiza", "tal vez", "a lo mejor", "puede ser",
          "mas o menos", "más o menos")  # fmt: skip


HEDGES = re.compile(
    r"\b(?:mostly|mainly|usually|generally|pretty much|basically|i guess|i think|i believe|"
    r"definitely|honestly|actually|thanks|thank you|please|pls|yeah so)\b"
)
TYPO_YES_NO = {"yes": True, "yeah": True, "yep": True, "yup": True, "sure": True, "okay": True,
               "nope": False}  # fmt: skip


def _yes_no_word(word: str, typos: bool) -> bool | None:
    if word in NO:
        return False
    if word in YES:
        return True
    if not typos or word in UNITS:  # "yrs" is years, not a slip of "yes"
        return None
    held = squeeze(word)  # "nooo", "yesss", "okkk": a held key
    if held != word and not is_english_word(word) and (held in YES or held in NO):
        return held in YES
    fixed = typo_of(word, frozenset(TYPO_YES_NO), substitutions=True)
    return None if fixed is None else TYPO_YES_NO[fixed]


def parse_yes_no(text: str, yes_words: Iterable[str] = (), no_words: Iterable[str] = ()) -> bool:
    """Y/N words ('yeah', 'nope', 'mostly yes', 'yws') and the question's own words for each
    side ('I fell' means yes to "did it start with a fall?"); when they disagree, ask again."""
    norm = normalize(text)
    if not norm:
        raise AnswerError("empty")
    if any(norm == u or norm.startswith(u + " ") for u in UNSURE) or re.search(
        r"\b(?:yes and no|yes or no|not sure|unsure|dunno|no idea|sometimes|depends|a veces|depende"
        r"|si y no)\b",
        norm,
    ):
        raise AnswerError("unsure")  # never read "not sure" as No: a safety screen would pass
    literal = _literal_yes_no(norm)
    meant = _yes_no_phrases(text, tuple(yes_words), tuple(no_words))
    if literal is None and meant is None:
        raise AnswerError("not_yes_no")
    if literal is not None and meant is not None and literal != meant:
        raise AnswerError("mixed")  # "no but it twisted": never pick the harmless half
    return bool(literal if literal is not None else meant)


def _literal_yes_no(norm: str) -> bool | None:
    pair = norm.split()
    if len(pair) == 2 and {pair[0] in YES, pair[1] in YES} == {pair[0] in NO, pair[1] in NO} == {
        True,
        False,
    }:
        raise AnswerError("mixed")  # "yeah no", "no yes": one yes word and one no word
    if norm in NO or any(norm.startswith(p) for p in NO_PHRASES):
        return False
    if norm in YES or any(norm.startswith(p) for p in YES_PHRASES):
        return True
    said = HEDGES.sub(" ", norm).split() or norm.split()
    return _yes_no_word(said[0], typos=len(said) == 1)  # a typo only in a one-word reply


def _yes_no_phrases(text: str, yes: tuple[str, ...], no: tuple[str, ...]) -> bool | None:
    """The reading of the question's yes/no words: 'I fell' yes, "didn't fall" no."""
    if not yes and not no:
        return None
    phrases = [("yes", phrase_words(p)) for p in yes] + [("no", phrase_words(p)) for p in no]
    readings = set()
    for hit in find(words_of(text), phrases):
        if hit.option == "yes":
            readings.add(not hit.negated)
        elif not hit.negated:
            readings.add(False)
    if len(readings) > 1:
        raise AnswerError("mixed")
    return readings.pop() if readings else None


_SCALE_MENTION = re.compile(
    r"\b(?:on\s+)?(?:a\s+)?(?:pain\s+)?scale\s+(?:of\s+|from\s+)?(?:\d+\s*(?:-|to)\s*)?\d+\b"
)
_OUT_OF = re.compile(r"(\d+(?:\.\d+)?)\s*(?:/|out of|outta|of)\s*(\d+)\b")
_RANGE = re.compile(
    r"\d\s*(?:-|–|to|or|o)\s*(?:an?\s+)?\d|\bbetween\s+(?:an?\s+)?\d+(?:\.\d+)?\s+and\s+(?:an?\s+)?\d"
    r"|\bentre\s+(?:el\s+)?\d+(?:\.\d+)?\s+(?:y|and)\s+(?:el\s+)?\d"
)
_YEARS = re.compile(r"(?:y|yr|yrs|year|years|ano|anos)\b")
NONE_SCORE = frozenset(["none", "no pain", "nothing", "no", "nil", "not at all", "pain free",
                        "nada", "sin dolor", "cero", "ninguno", "no me duele", "para nada"])  # fmt: skip


def _out_of(text: str, hi: int, unit: str | None) -> str:
    """'7/10' -> '7'; '11/10' -> '10' (off the top of the scale); '3/5' on a 0-10 is re-asked."""

    def read(m: re.Match[str]) -> str:
        value, scale = float(m.group(1)), float(m.group(2))
        if scale not in (hi, 10):
            if unit == "score":
                raise AnswerError("scale")
            return f" {m.group(1)} "
        return f" {min(value, scale):g} "

    return _OUT_OF.sub(read, text)


def _unitless(digits: str, unit: str | None) -> str:
    """Drop numbers that carry a unit the question doesn't ask for; error when nothing is left."""
    dropped = []
    for q in reversed(quantities(digits) if unit else []):
        said = digits[q.span[0] : q.span[1]]
        if unit == "years" and q.family == "duration" and _YEARS.search(said):
            continue  # "45 years old"
        dropped.append(q)
        digits = digits[: q.span[0]] + " " + digits[q.span[1] :]
    if dropped and not _numbers_in(digits):
        raise AnswerError("scale" if unit == "score" else "unit")
    return digits


def parse_integer(text: str, minimum: int, maximum: int, *, unit: str | None = None) -> int:
    """A whole number: '7', '7/10', 'seven', 'about 45'; units, ranges and other scales re-asked."""
    if not normalize(text):
        raise AnswerError("empty")
    unit = unit or ("score" if (minimum, maximum) == (0, 10) else None)
    lowered = re.sub(r"(\d+) and a half", r"\1.5", words_to_numbers(clean(text).lower()))
    lowered = _SCALE_MENTION.sub(" ", lowered)
    norm = normalize(_out_of(lowered, maximum, unit))
    if re.search(r"(?:^|\s)-\s*\d", norm):
        raise AnswerError("out_of_range")
    if _RANGE.search(norm):
        raise AnswerError("range")
    if unit == "years" and re.search(r"\b(?:19|20)\d\d\b", norm):
        raise AnswerError("unit")  # a year of birth: ask for the age itself
    found = _numbers_in(_unitless(norm, unit))
    if not found:
        if minimum == 0 and norm in NONE_SCORE:
            return 0
        raise AnswerError("not_a_number")
    if len(found) != 1:
        raise AnswerError("ambiguous")
    value = math.floor(found[0] + 0.5)  # 5.5 is 6: half-way reads upward, the safer side
    if not minimum <= value <= maximum:
        raise AnswerError("out_of_range")
    return int(value)


@dataclass(frozen=True)
class _Numbered:
    """A bare menu number, for menus that have no labels (the check-in's red-flag list)."""

    number: int
    id: str = ""
    label: str = ""
    synonyms: tuple[str, ...] = field(default=())
    red_flag: bool = False
    days: tuple[float, float] | None = None


def _numbered(options: Iterable[int]) -> list[_Numbered]:
    return [_Numbered(n, str(n), "none" if n == 0 else "") for n in options]


def parse_single(text: str, options: Iterable[int]) -> int:
    return int(parse_choice(text, _numbered(options), multi=False)[0])


def parse_multi(text: str, options: Iterable[int]) -> list[int]:
    """Multi-select where 0 means none: '1 3', '1,3', '1 and 3', 'none', '0'."""
    return sorted(int(i) for i in parse_choice(text, _numbered(options), multi=True))
