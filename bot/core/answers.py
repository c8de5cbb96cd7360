"""Parse what people text: yes/no, numbers, multi-select, knee-to-wall, times of day, keywords."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.errors import AnswerError

JSON = Any  # answers are JSON-native: bool, int, float, list[int], dict

YES = frozenset(
    [
        "y",
        "yes",
        "yeah",
        "yea",
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
NO_PHRASES = ("i don't", "i dont", "it didn't", "it didnt", "no it", "not really", "i do not")
NONE_WORDS = frozenset(
    ["none", "nothing", "neither", "nil", "zero", "0", "no", "nope", "nah", "n", "na", "n/a"]
)

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
    """Replace spelled numbers ('forty five', 'seven') by digits."""
    tokens = re.split(r"(\s+|-)", text)
    out: list[str] = []
    value: int | None = None
    for token in tokens:
        word = token.strip().lower()
        if word in ("", "-") and value is not None:
            continue
        if word in _TENS and (value is None or value >= 100):
            value = (value or 0) + _TENS[word]
        elif word in _UNITS and (value is None or (value % 10 == 0 and value % 100 != 10)):
            value = (value or 0) + _UNITS[word]
        elif word == "hundred":
            value = (value or 1) * 100
        elif word == "and" and value is not None and value >= 100:
            continue
        else:
            if value is not None:
                out.append(f" {value} ")
                value = None
            out.append(token)
    if value is not None:
        out.append(f" {value} ")
    return "".join(out)


_NUMBER = re.compile(r"(?<![\d.])\d+(?:\.\d+)?(?![\d.])")


TOO_BIG = 1e18


def numbers_in(text: str) -> list[float]:
    # A 400-digit "number" is inf as a float and int(inf) raises: make it merely out of range.
    found = (float(n) for n in _NUMBER.findall(words_to_numbers(normalize(text))))
    return [n if math.isfinite(n) else TOO_BIG for n in found]


UNSURE = ("not sure", "unsure", "idk", "i dont know", "i don't know", "dont know", "don't know",
          "no idea", "maybe", "perhaps", "dunno", "never mind", "nevermind", "not certain",
          "i'm not sure", "im not sure", "possibly", "kind of", "kinda", "sort of")  # fmt: skip


def parse_yes_no(text: str) -> bool:
    norm = normalize(text)
    if not norm:
        raise AnswerError("empty")
    if any(norm == u or norm.startswith(u + " ") for u in UNSURE):
        raise AnswerError("unsure")  # never read "not sure" as No: a safety screen would pass
    if norm in NO or any(norm.startswith(p) for p in NO_PHRASES):
        return False
    if norm in YES or any(norm.startswith(p) for p in YES_PHRASES):
        return True
    first = norm.split()[0]
    if first in YES:
        return True
    if first in NO:
        return False
    raise AnswerError("not_yes_no")


def parse_integer(text: str, minimum: int, maximum: int) -> int:
    lowered = re.sub(
        r"(\d+)\s*(?:/|out of|of)\s*10\b", r"\1", words_to_numbers(clean(text).lower())
    )
    norm = normalize(lowered)
    if not norm:
        raise AnswerError("empty")
    if re.search(r"(?:^|\s)-\s*\d", norm):
        raise AnswerError("out_of_range")
    found = numbers_in(norm)
    if len(found) != 1:
        raise AnswerError("not_a_number" if not found else "ambiguous")
    value = found[0]
    if value != int(value):
        value = round(value)
    if not minimum <= value <= maximum:
        raise AnswerError("out_of_range")
    return int(value)


def parse_single(text: str, options: Iterable[int]) -> int:
    allowed = sorted(options)
    norm = normalize(text)
    if 0 in allowed and norm in NONE_WORDS:
        return 0
    found = numbers_in(norm)
    if len(found) != 1:
        raise AnswerError("not_a_number" if not found else "one_only")
    value = found[0]
    if value != int(value) or int(value) not in allowed:
        raise AnswerError("out_of_range")
    return int(value)


def parse_multi(text: str, options: Iterable[int]) -> list[int]:
    """Multi-select where 0 means none: '1 3', '1,3', '1 and 3', 'none', '0'."""
    allowed = set(options)
    norm = normalize(text)
    if not norm:
        raise AnswerError("empty")
    if norm in NONE_WORDS or norm in ("none of them", "none of these", "no none"):
        return []
    norm = re.sub(r"(?<=\d)(?=\d)", " ", norm) if re.fullmatch(r"[1-9]{2,5}", norm) else norm
    found = numbers_in(norm)
    if not found:
        raise AnswerError("not_a_number")
    if any(n != int(n) or int(n) not in allowed for n in found):
        raise AnswerError("out_of_range")
    picked = sorted({int(n) for n in found})
    if picked == [0]:
        return []
    if 0 in picked:
        raise AnswerError("none_and_some")
    return picked


@dataclass(frozen=True)
class KneeToWall:
    left: float | None
    right: float | None

    @property
    def skipped(self) -> bool:
        return self.left is None or self.right is None

    def to_json(self) -> dict[str, Any]:
        if self.skipped:
            return {"skipped": True}
        return {"left": self.left, "right": self.right}


KTW_SKIP = frozenset(
    ["skip", "skipped", "pass", "later", "can't", "cant", "no", "n/a", "na", "dunno"]
)


def parse_knee_to_wall(text: str, maximum: float = 30.0) -> dict[str, Any]:
    """'L 9 R 12', 'left 9.5 right 12', 'R 12 L 9', '9' (both), 'skip'."""
    norm = normalize(text)
    if not norm:
        raise AnswerError("empty")
    if norm in KTW_SKIP or norm.split()[0] in ("skip", "skipped"):
        return KneeToWall(None, None).to_json()
    norm = words_to_numbers(norm).replace("cm", " ")
    sides: dict[str, float] = {}
    for side, value in re.findall(r"\b(l|left|r|right)\s*[:=-]?\s*(\d+(?:\.\d+)?)", norm):
        sides["left" if side.startswith("l") else "right"] = float(value)
    found = numbers_in(norm)
    if len(sides) == 2 and len(found) == 2:
        left, right = sides["left"], sides["right"]
    elif not sides and len(found) == 1:
        left = right = found[0]
    elif not sides and len(found) == 2:
        left, right = found
    else:
        raise AnswerError("not_ktw")
    if not (0 <= left <= maximum and 0 <= right <= maximum):
        raise AnswerError("out_of_range")
    return KneeToWall(left, right).to_json()


def ktw_fields(value: JSON) -> dict[str, float] | None:
    """Derived numbers of a knee-to-wall answer, or None when it was skipped."""
    if not isinstance(value, dict) or value.get("skipped"):
        return None
    left, right = float(value["left"]), float(value["right"])
    return {
        "left": left,
        "right": right,
        "min": min(left, right),
        "max": max(left, right),
        "diff": round(abs(left - right), 3),
    }


def parse_answer(
    kind: str, text: str, *, options: Iterable[int] = (), lo: int = 0, hi: int = 0
) -> JSON:
    """Parse a reply for a question of the given answer kind."""
    if kind == "yes_no":
        return parse_yes_no(text)
    if kind == "integer":
        return parse_integer(text, lo, hi)
    if kind == "single":
        return parse_single(text, options)
    if kind == "multi":
        return parse_multi(text, options)
    if kind == "ktw":
        return parse_knee_to_wall(text, float(hi or 30))
    raise AnswerError(f"unknown answer kind {kind!r}")
