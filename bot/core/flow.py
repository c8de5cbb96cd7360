"""The questionnaire graph: questions, branches, validated at load time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.core.answers import parse_integer, parse_knee_to_wall, parse_yes_no
from bot.core.choices import parse_choice
from bot.core.conditions import Condition
from bot.errors import AnswerError

END = "end"
PARTIAL = "_partial"  # in answers: part of an answer kept while the rest is asked (one ktw side)
KINDS = ("yes_no", "integer", "single", "multi", "ktw")


@dataclass(frozen=True)
class Branch:
    goto: str
    when: Condition | None = None


@dataclass(frozen=True)
class Option:
    """One menu choice: people type its number; answers and rules name its id."""

    id: str
    number: int
    label: str
    red_flag: bool = False
    synonyms: tuple[str, ...] = ()
    days: tuple[float, float] | None = None  # a duration option: from..up to (not incl.) days

    @property
    def is_none(self) -> bool:
        """In a multi-select, number 0 means none of them (stored as an empty list)."""
        return self.number == 0


@dataclass(frozen=True)
class Question:
    id: str
    kind: str
    prompt: str  # template name
    options: tuple[Option, ...] = ()
    lo: int = 0
    hi: int = 0
    next: tuple[Branch, ...] = ()
    stop_if: Any = None  # a value that ends the conversation politely (consent = no)
    stop_template: str | None = None
    unit: str | None = None  # integer questions: "years" (age) or "score" (0-10 scales)
    yes_words: tuple[str, ...] = ()  # yes/no questions: what people say for each side
    no_words: tuple[str, ...] = ()
    unsure: str = ""  # guidance for someone not sure, pointing to the safe answer

    @property
    def numbers(self) -> tuple[int, ...]:
        return tuple(o.number for o in self.options)

    @property
    def red_flag_options(self) -> tuple[str, ...]:
        return tuple(o.id for o in self.options if o.red_flag)

    def option_ids(self) -> tuple[str, ...]:
        """The ids an answer to this question can hold (a multi's none is the empty list)."""
        skip_none = self.kind == "multi"
        return tuple(o.id for o in self.options if not (skip_none and o.is_none))

    def by_number(self, number: int) -> Option:
        return next(o for o in self.options if o.number == number)

    def parse(
        self, text: str, *, today: date | None = None, partial: dict[str, float] | None = None
    ) -> Any:
        """The answer value; `today` places "since March", `partial` is one side given earlier."""
        if self.kind in ("single", "multi"):
            ids = parse_choice(text, self.options, multi=self.kind == "multi", today=today)
            return ids if self.kind == "multi" else ids[0]
        if self.kind == "integer":
            return parse_integer(text, self.lo, self.hi, unit=self.unit)
        if self.kind == "ktw":
            return parse_knee_to_wall(text, float(self.hi or 30), partial)
        return parse_yes_no(text, self.yes_words, self.no_words)

    def is_red_flag(self, value: Any) -> bool:
        if isinstance(value, list):
            return any(v in self.red_flag_options for v in value)
        return self.kind == "single" and value in self.red_flag_options

    def phrase_problems(self) -> list[str]:
        """Each label, synonym and yes/no word read as what it names, and not when negated."""
        said: list[tuple[str | bool, str]] = [
            (o.id, p) for o in self.options if o.number != 0 for p in (o.label, *o.synonyms)
        ]
        said += [(True, p) for p in self.yes_words] + [(False, p) for p in self.no_words]
        found = []
        for meant, phrase in said:
            negated = () if meant is False else ((f"no {phrase}", False),)  # "no loose" is no
            for text, must in ((phrase, True), *negated):
                try:
                    value = self.parse(text)
                except AnswerError:
                    value = None
                picked = value if isinstance(value, list) else [value]
                if (meant in picked) != must:
                    found.append(f"question {self.id!r}: {text!r} is read as {value!r}")
        return found

    def reprompt_context(self, reason: str, partial: Any = None) -> dict[str, Any]:
        """What the re-prompt template needs to say exactly what to reply, from config."""
        return {"kind": self.kind, "reason": reason, "lo": self.lo, "hi": self.hi,
                "options": self.numbers, "menu": self.menu(), "unit": self.unit,
                "partial": partial}  # fmt: skip

    def menu(self) -> list[dict[str, Any]]:
        """The option list as templates render it (numbers and labels from config)."""
        return [{"number": o.number, "label": o.label, "id": o.id} for o in self.options]


def partial_for(answers: Mapping[str, Any], qid: str) -> dict[str, float] | None:
    """The part of an answer to `qid` kept from an earlier message (one knee-to-wall side)."""
    held = answers.get(PARTIAL)
    return held["value"] if isinstance(held, dict) and held.get("question") == qid else None


def with_partial(answers: Mapping[str, Any], qid: str, partial: dict[str, float]) -> dict[str, Any]:
    return {**answers, PARTIAL: {"question": qid, "value": partial}}


def without_partial(answers: Mapping[str, Any]) -> dict[str, Any]:
    """The answers proper: what triage, export and the next question see."""
    return {k: v for k, v in answers.items() if k != PARTIAL}


@dataclass(frozen=True)
class Flow:
    start: str
    questions: Mapping[str, Question] = field(default_factory=dict)

    def upgrade(self, answers: Mapping[str, Any]) -> dict[str, Any]:
        """Answers saved before options had ids held menu numbers: read them as the ids."""
        out = dict(answers)
        for qid, value in answers.items():
            q = self.questions.get(qid)
            if q is None or q.kind not in ("single", "multi"):
                continue
            known = {o.number: o.id for o in q.options}
            if isinstance(value, int) and not isinstance(value, bool) and value in known:
                out[qid] = known[value]
            elif isinstance(value, list) and any(isinstance(v, int) for v in value):
                out[qid] = [known.get(v, v) if isinstance(v, int) else v for v in value if v != 0]
        return out

    def question(self, qid: str) -> Question:
        return self.questions[qid]

    def next_step(self, qid: str, answers: Mapping[str, Any]) -> str:
        for branch in self.questions[qid].next:
            if branch.when is None or branch.when.holds(answers):
                return branch.goto
        return END

    def problems(self) -> list[str]:
        """Dangling gotos, unreachable questions, cycles: empty when the graph is sound."""
        found: list[str] = []
        if self.start not in self.questions:
            found.append(f"start {self.start!r} is not a question id")
            return found
        for q in self.questions.values():
            for b in q.next:
                if b.goto != END and b.goto not in self.questions:
                    found.append(f"question {q.id!r}: next goes to unknown id {b.goto!r}")
            if q.next and q.next[-1].when is not None:
                found.append(f"question {q.id!r}: the last `next` branch needs no `when` (default)")
        if found:
            return found
        seen: set[str] = set()
        stack: list[tuple[str, tuple[str, ...]]] = [(self.start, ())]
        while stack:
            qid, path = stack.pop()
            if qid in path:
                found.append(f"cycle through {' -> '.join((*path, qid))}")
                continue
            seen.add(qid)
            for b in self.questions[qid].next:
                if b.goto != END:
                    stack.append((b.goto, (*path, qid)))
        for qid in self.questions:
            if qid not in seen:
                found.append(f"question {qid!r} can never be reached from {self.start!r}")
        return found
