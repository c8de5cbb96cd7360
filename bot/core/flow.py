"""The questionnaire graph: questions, branches, validated at load time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.core.answers import parse_answer
from bot.core.conditions import Condition

END = "end"
KINDS = ("yes_no", "integer", "single", "multi", "ktw")


@dataclass(frozen=True)
class Branch:
    goto: str
    when: Condition | None = None


@dataclass(frozen=True)
class Question:
    id: str
    kind: str
    prompt: str  # template name
    options: tuple[int, ...] = ()
    lo: int = 0
    hi: int = 0
    red_flag_options: tuple[int, ...] = ()
    next: tuple[Branch, ...] = ()
    stop_if: Any = None  # a value that ends the conversation politely (consent = no)
    stop_template: str | None = None

    def parse(self, text: str) -> Any:
        return parse_answer(self.kind, text, options=self.options, lo=self.lo, hi=self.hi)

    def is_red_flag(self, value: Any) -> bool:
        if isinstance(value, list):
            return any(v in self.red_flag_options for v in value)
        return self.kind == "single" and value in self.red_flag_options


@dataclass(frozen=True)
class Flow:
    start: str
    questions: Mapping[str, Question] = field(default_factory=dict)

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
