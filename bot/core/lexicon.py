"""The red-flag lexicon: concepts, intents and context rules, compiled to token patterns; pure."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# How a mention can be about something other than the texter's knee right now.
CONTEXTS = ("negated", "historical", "hypothetical", "other_person", "partial")
AFFIRMED = "affirmed"
INTENTS = ("callback", "opt_out", "opt_out_maybe")

TokenPattern = list[dict[str, Any]]
_GAP = re.compile(r"^~(\d+)$")
_ANY_GAP = re.compile(r"^~~(\d+)$")


@dataclass(frozen=True)
class Concept:
    """Something a person may say: a red flag (or another answer) named by a question's option."""

    id: str
    question: str | None  # which question it answers; None for a general emergency
    value: Any  # the option id (single/multi) or the value (yes_no) it means
    outcome: str | None  # the triage outcome it leads to on its own (red flags)
    phrases: tuple[str, ...]
    patterns: tuple[TokenPattern, ...]
    past_counts: bool = False  # "I had cancer years ago" still answers a history question
    partial: bool = False  # an inability: "can't walk far" is not "can't walk"

    @property
    def red_flag(self) -> bool:
        return self.outcome in ("emergency", "urgent", "priority_call")


@dataclass(frozen=True)
class ContextRule:
    category: str  # one of CONTEXTS, "terminate", "pseudo" or "affirm"
    phrase: str
    direction: str  # forward | backward | both


@dataclass(frozen=True)
class Lexicon:
    """One language's lexicon; `bot/nlp.py` turns it into a medspaCy pipeline."""

    lang: str
    concepts: tuple[Concept, ...]
    intents: Mapping[str, tuple[tuple[str, ...], tuple[TokenPattern, ...]]]
    context: tuple[ContextRule, ...]
    answer_words: frozenset[str]
    protected: frozenset[str]
    contrast: frozenset[str] = frozenset()  # "yes BUT ...": the rest may change the answer
    notable: frozenset[str] = frozenset()  # words that make an unexplained part worth asking about
    vocabulary: frozenset[str] = field(default_factory=frozenset)  # words a typo is read as
    digest: str = ""  # of the source file: one compiled pipeline per lexicon per process

    def concept(self, concept_id: str) -> Concept:
        return next(c for c in self.concepts if c.id == concept_id)

    def for_option(self, question: str, value: Any) -> list[Concept]:
        return [c for c in self.concepts if c.question == question and c.value == value]


def compile_pattern(
    text: str, words: Mapping[str, list[str]], never_skip: Iterable[str] = ()
) -> TokenPattern:
    """'CHEST ~3 PAIN' -> spaCy token pattern. CAPS = word group, ~N = up to N words, x? (or
    GROUP?) = optional, ~~N = up to N words of any kind (only before a word that carries its own
    polarity, like a pronoun: "my calf doesn't hurt but it is swollen").

    A gap never skips a `never_skip` word (negations, "but", a full stop): "calf isn't swollen"
    must not match "CALF ~4 SWOLLEN" with the negation hidden inside the match.
    """
    out: TokenPattern = []
    skip = sorted(never_skip)
    for token in text.split():
        gap = _GAP.match(token)
        if any_gap := _ANY_GAP.match(token):  # may skip a negation: the next words say it again
            out.append({"OP": f"{{0,{any_gap.group(1)}}}"})
        elif gap:
            out.append({"LOWER": {"NOT_IN": skip}, "OP": f"{{0,{gap.group(1)}}}"})
        elif token.rstrip("?").isupper() and token.rstrip("?").replace("_", "").isalpha():
            group = token.rstrip("?")
            if group not in words:
                raise ValueError(f"pattern {text!r}: unknown word group {group}")
            out.append({"LOWER": {"IN": [w.lower() for w in words[group]]}})
            if token.endswith("?"):  # an optional word group: LINK?
                out[-1]["OP"] = "?"
        elif token.endswith("?") and len(token) > 1:
            out.append({"LOWER": token[:-1].lower(), "OP": "?"})
        else:
            out.append({"LOWER": token.lower()})
    if not out or "OP" in out[0] or "OP" in out[-1]:
        raise ValueError(f"pattern {text!r}: must start and end with a word, not a gap")
    return out


def pattern_words(pattern: TokenPattern) -> set[str]:
    """The literal words a token pattern can match (for typo correction)."""
    found: set[str] = set()
    for token in pattern:
        lower = token.get("LOWER")
        if isinstance(lower, str):
            found.add(lower)
        elif isinstance(lower, dict):
            found.update(str(w) for w in lower.get("IN", ()))
    return found
