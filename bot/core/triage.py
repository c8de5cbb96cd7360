"""Ordered triage rules over answers -> Outcome(level, rule, reasons). First match wins."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.core.conditions import Condition
from bot.core.flow import END, Flow

OUTCOMES = ("emergency", "urgent", "priority_call", "book_call", "exercises")
EARLY = frozenset({"emergency", "urgent", "priority_call"})


@dataclass(frozen=True)
class Rule:
    id: str
    outcome: str
    when: Condition


@dataclass(frozen=True)
class Outcome:
    level: str
    rule: str
    reasons: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.level, "rule": self.rule, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class Rules:
    rules: tuple[Rule, ...]

    def evaluate(self, answers: Mapping[str, Any]) -> Outcome | None:
        """The first rule that holds, or None when none does."""
        return _first(self.rules, answers)

    def evaluate_early(self, answers: Mapping[str, Any]) -> Outcome | None:
        """Only the rules that end the questionnaire at once (emergency, urgent, priority)."""
        return _first([r for r in self.rules if r.outcome in EARLY], answers)


def missing_answers(flow: Flow, rules: Rules, answers: Mapping[str, Any]) -> list[str]:
    """Questions the conversation would ask before an outcome, that a rule or a branch reads:
    an answer set without them cannot be triaged (`bot triage` refuses it). Like the
    conversation, the walk stops at an early outcome only once the answers so far reach it, so
    a missing red-flag screen is named even when a later answer would end the questionnaire."""
    needed = {a.question for r in rules.rules for a in r.when.atoms()}
    needed |= {a.question for q in flow.questions.values() for b in q.next if b.when
               for a in b.when.atoms()}  # fmt: skip
    missing: list[str] = []
    step, seen, so_far = flow.start, set(), dict[str, Any]()
    while step != END and step not in seen:
        seen.add(step)
        if step in answers:
            so_far[step] = answers[step]
        elif step in needed:
            missing.append(step)
        if rules.evaluate_early(so_far) is not None:
            break
        step = flow.next_step(step, answers)
    return missing


def _first(rules: Sequence[Rule], answers: Mapping[str, Any]) -> Outcome | None:
    for rule in rules:
        if rule.when.holds(answers):
            return Outcome(rule.outcome, rule.id, tuple(rule.when.reasons(answers)))
    return None
