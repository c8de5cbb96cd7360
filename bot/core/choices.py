"""Single and multi-select answers: menu numbers, option words, durations placed on the options."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import date
from typing import Protocol

from bot.core import options as words
from bot.core.units import (
    UNITS,
    Quantity,
    numbers_in,
    quantities,
    since,
    spelled_to_digits,
    vague_duration,
)
from bot.errors import AnswerError


class Choice(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def number(self) -> int: ...
    @property
    def label(self) -> str: ...
    @property
    def synonyms(self) -> tuple[str, ...]: ...
    @property
    def red_flag(self) -> bool: ...
    @property
    def days(self) -> tuple[float, float] | None: ...


def parse_choice(
    text: str, choices: Sequence[Choice], *, multi: bool, today: date | None = None
) -> list[str]:
    """The ids picked ([] is none on a multi); AnswerError(reason) when it can't be read safely."""
    tokens = words.words_of(text)
    if not tokens:
        raise AnswerError("empty")
    if any(c.red_flag for c in choices) and words.UNSURE.search(" ".join(tokens)):
        raise AnswerError("unsure")  # a safety screen never takes a guess: ask again
    none = next((c for c in choices if c.number == 0), None)
    real = [c for c in choices if c.number != 0]
    said_none = words.is_one_of(tokens, (*words.NONE_PHRASES, *_phrases(none or choices[0])))
    if none is not None and (said_none or words.says_none(tokens)):
        return [] if multi else [none.id]
    phrases = [(c.id, words.phrase_words(p)) for c in choices for p in _phrases(c)]
    if none is not None:
        phrases += [(none.id, words.phrase_words(p)) for p in words.NONE_PHRASES if p != "no"]
    hits = words.find(tokens, phrases)
    picked = {h.option for h in hits if not h.negated}
    rest = " ".join(t for i, t in enumerate(tokens) if not any(h.start <= i < h.end for h in hits))
    digits = spelled_to_digits(rest)
    placed = (
        _by_duration(digits, real, today) if not picked and any(c.days for c in choices) else None
    )
    if placed is not None:
        return [placed]
    digits = _menu_digits(digits, rest, choices)
    for q in quantities(digits):  # "after 4 miles" is not menu number 4
        digits = digits[: q.span[0]] + " " * (q.span[1] - q.span[0]) + digits[q.span[1] :]
    if re.fullmatch(r"[1-9]{2,5}", digits.strip()) and multi:
        digits = " ".join(digits.strip())  # "13" on a multi is 1 and 3
    negated_numbers = _NOT_NUMBER.findall(digits)  # "not 1 but 3": 1 is not picked
    digits = _NOT_NUMBER.sub(" ", digits)
    picked |= _by_number(digits, choices, worded=bool(picked))
    if negated_numbers and not picked:
        raise AnswerError("which")
    picked |= _both_or_all(tokens, real, multi, picked)
    return _decide(picked, hits, none, real, multi)


def _menu_digits(digits: str, rest: str, choices: Sequence[Choice]) -> str:
    """On a safety screen a spelled number picks an option only in a menu-like reply ("two and
    four"); in a sentence it is a word: "one of my knees", "a step or two" are not 1 and 2."""
    if not any(c.red_flag for c in choices) or all(
        t in MENU_JOINERS or t in words.FILLER or t.replace(".", "").isdigit()
        for t in digits.split()
    ):
        return digits
    return rest  # typed digits still pick: "1, and my calf is swollen"


def _phrases(c: Choice) -> tuple[str, ...]:
    return (c.label, *c.synonyms)


def _by_number(digits: str, choices: Sequence[Choice], worded: bool) -> set[str]:
    """Menu numbers; one that is no option is re-asked, unless words already named options
    ('fever of 101': the number describes, it doesn't choose)."""
    if re.search(r"(?:^|\s)-\s*\d", digits) and not worded:
        raise AnswerError("out_of_range")
    by_number = {c.number: c.id for c in choices}
    found = numbers_in(digits)
    if any(n != int(n) or int(n) not in by_number for n in found) and not worded:
        raise AnswerError("out_of_range")
    return {by_number[int(n)] for n in found if n == int(n) and int(n) in by_number}


def _both_or_all(
    tokens: list[str], real: Sequence[Choice], multi: bool, picked: set[str]
) -> set[str]:
    said = set(tokens)
    if picked or not said & {"both", "all", "everything"}:
        return set()
    if said & words.NEGATORS:
        raise AnswerError("which")  # "not all of them", "no to both": which ones, then?
    if ("both" in said and len(real) == 2) or (multi and said & {"all", "everything"}):
        return {c.id for c in real}
    raise AnswerError("which")


def _decide(
    picked: set[str],
    hits: list[words.Hit],
    none: Choice | None,
    real: Sequence[Choice],
    multi: bool,
) -> list[str]:
    order = [c.id for c in real]
    if none is not None and none.id in picked:
        if picked != {none.id}:
            raise AnswerError("none_and_some")
        return [] if multi else [none.id]
    if not picked:
        negated = {h.option for h in hits if h.negated}
        if negated and none is not None and negated >= set(order):
            return [] if multi else [none.id]
        raise AnswerError("which" if negated else "not_a_number")
    chosen = [i for i in order if i in picked]
    if multi or len(chosen) == 1:
        return chosen
    flagged = [c.id for c in real if c.id in picked and c.red_flag]
    if len(flagged) == 1:
        return flagged  # "it locks and gives way": the safer reading, never the harmless one
    raise AnswerError("one_only")


def _by_duration(digits: str, real: Sequence[Choice], today: date | None) -> str | None:
    """'4 weeks', 'about 3 years', 'since March': the option whose days hold it, else None.
    'under 2' or '2-6' (no unit) is in the unit the labels use ("under 2 weeks")."""
    if _UNITLESS.fullmatch(digits.strip()) and (unit := _label_unit(real)):
        digits = f"{digits} {unit}"
    found = [q for q in quantities(digits) if q.family == "duration"]
    extra = since(digits, today) or (None if found else vague_duration(digits))
    found += [extra] if extra is not None else []
    if not found:
        if re.search(r"\bsince\b", digits) and today is None:
            raise AnswerError("duration")
        return None
    placed = {_option_for(q, real) for q in found}
    if len(placed) != 1 or None in placed:
        raise AnswerError("range")
    return placed.pop()


MENU_JOINERS = frozenset({"and", "or", "&", "+", ",", ".", "plus", "both", "number", "numbers",
                          "option", "options", "also"})  # fmt: skip
_NOT_NUMBER = re.compile(
    r"\b(?:not|no|never|without)\s+(?:number\s+|option\s+)?\d+(?:\s*(?:,|or|nor)\s*\d+)*\b"
)
_UNITLESS = re.compile(
    r"(?:under|over|less than|more than|longer than)\s+\d+(?:\.\d+)?"
    r"|\d+(?:\.\d+)?\s*(?:-|to)\s*\d+(?:\.\d+)?"
)


def _label_unit(real: Sequence[Choice]) -> str | None:
    """The one duration unit the option labels are written in ('weeks'), if there is one."""
    said = {w for c in real for w in c.label.split() if UNITS.get(w, ("",))[0] == "duration"}
    return said.pop() if len(said) == 1 else None


def _option_for(q: Quantity, real: Sequence[Choice]) -> str | None:
    def holding(days: float) -> str | None:
        for c in real:
            lo, hi = c.days or (math.nan, math.nan)
            if lo <= days < hi:
                return c.id
        return None

    low, high = holding(q.low), holding(min(q.high, 1e9))
    return low if low == high else None
