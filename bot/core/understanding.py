"""Read one message in the context of the current question: answer, concepts, intents; pure.

The clinical NLP (medspaCy) sits behind the `Reader` port: the core only sees mentions with
their context. Menu-only texts (digits, yes/no words, keywords) never reach the reader.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from bot.core.answers import (
    _TENS,
    _UNITS,
    NO,
    NONE_WORDS,
    UNSURE,
    YES,
    clean,
    normalize,
    numbers_in,
)
from bot.core.flow import Flow, Question
from bot.core.lexicon import AFFIRMED, Concept, Lexicon
from bot.core.options import fold
from bot.core.triage import Outcome, Rules
from bot.errors import AnswerError, PartialAnswer

READ_LIMIT = 1600  # a long SMS, concatenated (Twilio's limit): a red flag at the end still counts
FREE_TEXT_RULE = "emergency_free_text"
SEVERITY = ("emergency", "urgent", "priority_call")
MENU_WORDS = frozenset(
    {*YES, *NO, *NONE_WORDS, *_UNITS, *_TENS, "and", "&", "or", "l", "r", "left", "right", "cm",
     "out", "of", "hundred", "plus", "then"}
)  # fmt: skip
_MENU_TOKEN = re.compile(r"\d+(?:\.\d+)?(?:/\d+)?|\d{1,2}(?::\d\d)?(?:am|pm)|[,;+&/]")


@dataclass(frozen=True)
class Mention:
    """A concept or intent found in the text, and in what context it was said."""

    concept: str  # a concept id from the lexicon, or "intent:<name>"
    text: str
    context: str = (
        AFFIRMED  # affirmed | negated | historical | hypothetical | other_person | partial
    )

    @property
    def affirmed(self) -> bool:
        return self.context == AFFIRMED


@dataclass(frozen=True)
class Found:
    """What the reader saw: mentions, and the content words no mention or context rule covers."""

    mentions: tuple[Mention, ...] = ()
    leftover: tuple[str, ...] = ()


class Reader(Protocol):
    """The port the clinical NLP adapter implements (bot/nlp.py)."""

    def read(self, text: str, lang: str) -> Found: ...


class NoReader:
    """For a playbook built without a lexicon: finds nothing."""

    def read(self, text: str, lang: str) -> Found:
        return Found()


@dataclass(frozen=True)
class Reading:
    """How the bot reads one message at one question."""

    answer: Any = None  # the literal answer to the question (Question.parse), if any
    error: str | None = None  # the AnswerError reason when there is no literal answer
    mentions: tuple[Mention, ...] = ()
    flags: tuple[str, ...] = ()  # affirmed red-flag concept ids
    callback: bool = False
    opt_out: bool = False
    opt_out_maybe: bool = False  # might mean "stop texting me": one line asks
    unsure: bool = False
    unexplained: tuple[str, ...] = ()
    matters: bool = False  # the unexplained part seems to matter (see Lexicon.contrast/notable)
    safer: Any = None  # what the rest of the text says the answer is, when it disagrees
    partial: Any = None  # part of an answer (one knee-to-wall side) to keep while asking the rest
    # Red-flag options the answer picked by words that the clinical reading does not confirm
    # ("just a tight calf, no swelling" matches the words of "tight, hard calf"): ask first.
    doubtful: tuple[str, ...] = ()
    fast: bool = False  # menu-only: the NLP was not needed
    concepts: tuple[Concept, ...] = field(default=(), repr=False, compare=False)

    @property
    def value(self) -> Any:
        """The answer to keep: the safer reading wins."""
        return self.safer if self.safer is not None else self.answer

    @property
    def sure(self) -> Any:
        """The answer without the red-flag options picked by their words alone (`doubtful`)."""
        value = self.value
        if isinstance(value, list):
            return [o for o in value if o not in self.doubtful]
        return None if value in self.doubtful else value

    @property
    def confirm(self) -> bool:
        """Ask one short question before accepting (never for a plain menu answer)."""
        if self.fast or self.flags:
            return False
        if self.safer is not None or self.doubtful:
            return True
        return self.answer is not None and self.matters

    def to_json(self) -> dict[str, Any]:
        return {
            "answer": self.answer, "error": self.error, "flags": list(self.flags),
            "mentions": [{"concept": m.concept, "text": m.text, "context": m.context}
                         for m in self.mentions],
            "callback": self.callback, "opt_out": self.opt_out,
            "opt_out_maybe": self.opt_out_maybe, "unsure": self.unsure,
            "unexplained": list(self.unexplained), "unexplained_matters": self.matters,
            "safer": self.safer,
            "doubtful": list(self.doubtful), "confirm": self.confirm, "fast_path": self.fast,
        }  # fmt: skip


def menu_only(text: str, keywords: Iterable[str] = ()) -> bool:
    """Digits, yes/no and none words, number words, keywords: nothing for the NLP to read."""
    words = normalize(text).replace(",", " , ").split()
    if len(words) == 1 and words[0] in keywords:
        return True  # a keyword counts only alone: "call 911" is not the CALL keyword
    return bool(words) and all(w in MENU_WORDS or _MENU_TOKEN.fullmatch(w) for w in words)


def is_unsure(text: str) -> bool:
    norm = f" {normalize(text).replace(chr(39), '')} "
    return any(f" {u.replace(chr(39), '')} " in norm for u in UNSURE)


def understand(
    text: str,
    question: Question | None,
    lexicon: Lexicon | None,
    reader: Reader,
    *,
    keywords: Iterable[str] = (),
    lang: str = "en",
    today: date | None = None,
    partial: dict[str, float] | None = None,
) -> Reading:
    """The reading of `text` asked at `question` (None: no question is open)."""
    text = clean(text)
    answer, error, part = _literal(question, text, today, partial)
    unsure = is_unsure(text)
    if lexicon is None or menu_only(text, keywords):
        return Reading(answer, error, unsure=unsure, fast=True, partial=part)
    found = reader.read(text[:READ_LIMIT], lang)
    concepts = {c.id: c for c in lexicon.concepts}
    affirmed = [m for m in found.mentions if _counts(m, concepts.get(m.concept))]
    said = [concepts[m.concept] for m in affirmed if m.concept in concepts]
    intents = {m.concept.removeprefix("intent:") for m in affirmed}
    # "Could someone call me?" is asked as a question and still asks for a call.
    if any(m.concept == "intent:callback" and m.context == "hypothetical" for m in found.mentions):
        intents.add("callback")
    maybe = {m.concept for m in found.mentions if m.context == "hypothetical"}
    unexplained = _unexplained(found.leftover, question, lexicon, said)
    return Reading(
        answer=answer,
        error=error,
        mentions=found.mentions,
        flags=tuple(dict.fromkeys(c.id for c in said if c.red_flag)),
        callback="callback" in intents,
        opt_out="opt_out" in intents,
        opt_out_maybe="opt_out_maybe" in intents or "intent:opt_out" in maybe,
        unsure=unsure,
        unexplained=unexplained,
        matters=_matters(text, found.leftover, unexplained, lexicon),
        safer=_safer(question, answer, said),
        concepts=tuple({c.id: c for c in said}.values()),
        partial=part,
        doubtful=_doubtful(question, answer, text, said),
    )


def _literal(
    question: Question | None, text: str, today: date | None, partial: dict[str, float] | None
) -> tuple[Any, str | None, Any]:
    """The answer as Question.parse reads it, or the reason it can't (and any part it kept)."""
    if question is None:
        return None, None, None
    try:
        return question.parse(text[:500], today=today, partial=partial), None, None
    except PartialAnswer as err:
        return None, str(err), err.partial
    except AnswerError as err:
        return None, str(err), None


def _counts(mention: Mention, concept: Concept | None) -> bool:
    if mention.affirmed:
        return True
    return concept is not None and concept.past_counts and mention.context == "historical"


def _unexplained(
    leftover: tuple[str, ...], question: Question | None, lexicon: Lexicon, said: list[Concept]
) -> tuple[str, ...]:
    """Content words nothing explains, and what was said about another question (not a red flag:
    those act by themselves): "2, and it gives out on stairs" at the location question."""
    known = set(lexicon.answer_words)
    if question is not None:  # the question's own words (any language, accents folded)
        said_here = [p for o in question.options for p in (o.label, *o.synonyms)]
        for phrase in (*said_here, *question.yes_words, *question.no_words):
            known.update(fold(normalize(phrase)).split())
    elsewhere = [
        f"({c.id})" for c in said if not c.red_flag and question and c.question != question.id
    ]
    return (*(w for w in leftover if w not in known and not w.isdigit()), *elsewhere)


def _matters(
    text: str, leftover: tuple[str, ...], unexplained: tuple[str, ...], lexicon: Lexicon
) -> bool:
    """Is the part of an answer nothing explains worth a confirmation?"""
    words = set(normalize(text).replace("'", "").split())
    if words & lexicon.contrast and leftover:  # "Y, although it's still achy in the morning"
        return True
    return (
        any(w.startswith("(") for w in unexplained)  # said about another question
        or any(w in lexicon.notable for w in unexplained)
        or len(unexplained) >= 3
    )


def _doubtful(
    question: Question | None, literal: Any, text: str, said: list[Concept]
) -> tuple[str, ...]:
    """Red-flag options picked by their words alone, without a number and without the clinical
    reading affirming them."""
    if question is None or question.kind not in ("single", "multi") or not literal:
        return ()
    picked = literal if isinstance(literal, list) else [literal]
    typed = {int(n) for n in numbers_in(text) if n == int(n)}
    affirmed = {c.value for c in said if c.question == question.id}
    return tuple(o.id for o in question.options if o.id in picked and o.red_flag
                 and o.number not in typed and o.id not in affirmed)  # fmt: skip


def _safer(question: Question | None, literal: Any, said: list[Concept]) -> Any:
    """The answer the concepts about this question imply, when it differs from the literal one."""
    if question is None:
        return None
    mine = [c.value for c in said if c.question == question.id]
    if not mine:
        return None
    if question.kind == "multi":
        picked = [*(literal if isinstance(literal, list) else []), *mine]
        merged = [o for o in question.option_ids() if o in picked]
        return merged if merged != literal else None
    worst = next((v for v in mine if question.is_red_flag(v)), mine[0])
    return worst if worst != literal else None


def red_flag_outcome(
    flow: Flow, rules: Rules, answers: dict[str, Any], concepts: Iterable[Concept]
) -> tuple[Outcome, dict[str, Any]]:
    """Red flags said in free text, acted on as if their options were answered: the outcome the
    triage rules give (or 911 for an emergency no option names), and the answers it rests on."""
    answers = dict(answers)
    said = [c for c in concepts if c.red_flag]
    for concept in said:
        if concept.question is None:
            continue
        q = flow.question(concept.question)
        if q.kind == "multi":
            held = answers.get(q.id)
            picked = [*(held if isinstance(held, list) else []), concept.value]
            answers[q.id] = [o for o in q.option_ids() if o in picked]
        else:
            answers[q.id] = concept.value
    outcome = rules.evaluate_early(answers)
    general = any(c.question is None and c.outcome == "emergency" for c in said)
    if general and (outcome is None or outcome.level != "emergency"):
        outcome = Outcome("emergency", FREE_TEXT_RULE, ("you described a possible emergency",))
    if outcome is None:  # check-config proves each red-flag concept has an early rule
        level = min((c.outcome or "urgent" for c in said), key=SEVERITY.index)
        outcome = Outcome(level, FREE_TEXT_RULE, ("you described a symptom to check today",))
    return outcome, answers
