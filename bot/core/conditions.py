"""Declarative conditions over answers, shared by branching and triage rules (no eval)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.answers import ktw_fields

OPERATORS = ("eq", "ne", "in", "has_any", "gte", "gt", "lte", "lt", "skipped", "answered")


@dataclass(frozen=True)
class Atom:
    """One test on one answer, e.g. pain_run >= 6 or ktw.min < 10."""

    question: str
    op: str
    value: Any
    field: str | None = None

    def holds(self, answers: Mapping[str, Any]) -> bool:
        if self.op == "answered":
            return (self.question in answers) == bool(self.value)
        if self.question not in answers:
            return False
        raw = answers[self.question]
        if self.op == "skipped":
            return (ktw_fields(raw) is None) == bool(self.value)
        if self.field is not None:
            fields = ktw_fields(raw)
            if fields is None:
                return False
            raw = fields[self.field]
        return _compare(self.op, raw, self.value)

    def describe(self) -> str:
        name = f"{self.question}.{self.field}" if self.field else self.question
        return f"{name} {self.op} {self.value!r}"


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if op == "eq":
        return bool(actual == expected)
    if op == "ne":
        return bool(actual != expected)
    if op == "in":
        return actual in expected
    if op == "has_any":
        return isinstance(actual, list) and any(v in actual for v in expected)
    if isinstance(actual, bool) or not isinstance(actual, int | float):
        return False
    if op == "gte":
        return bool(actual >= expected)
    if op == "gt":
        return bool(actual > expected)
    if op == "lte":
        return bool(actual <= expected)
    if op == "lt":
        return bool(actual < expected)
    raise ValueError(f"unknown operator {op}")


@dataclass(frozen=True)
class Condition:
    """A tree: an atom, or all/any/not of conditions; `reason` is said when it holds."""

    atom: Atom | None = None
    all_of: tuple[Condition, ...] = ()
    any_of: tuple[Condition, ...] = ()
    negate: Condition | None = None
    always: bool = False
    reason: str | None = None

    def holds(self, answers: Mapping[str, Any]) -> bool:
        if self.always:
            return True
        if self.atom is not None:
            return self.atom.holds(answers)
        if self.negate is not None:
            return not self.negate.holds(answers)
        if self.all_of:
            return all(c.holds(answers) for c in self.all_of)
        return any(c.holds(answers) for c in self.any_of)

    def atoms(self) -> list[Atom]:
        found = [self.atom] if self.atom else []
        for child in (*self.all_of, *self.any_of, *([self.negate] if self.negate else [])):
            found.extend(child.atoms())
        return found

    def reasons(self, answers: Mapping[str, Any]) -> list[str]:
        """Reasons of the parts that hold (top level and one level down)."""
        if not self.holds(answers):
            return []
        found = [self.reason] if self.reason else []
        for child in (*self.all_of, *self.any_of):
            found.extend(child.reasons(answers))
        return found


def parse_condition(raw: Mapping[str, Any], where: str) -> Condition:
    """Build a Condition from YAML; raises ValueError naming `where` on a bad shape."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: a condition must be a mapping, got {raw!r}")
    reason = raw.get("reason")
    if raw.get("always"):
        return Condition(always=True, reason=reason)
    if "all" in raw or "any" in raw:
        key = "all" if "all" in raw else "any"
        items = raw[key]
        if not isinstance(items, list) or not items:
            raise ValueError(f"{where}.{key}: needs a non-empty list of conditions")
        parts = tuple(parse_condition(c, f"{where}.{key}[{i}]") for i, c in enumerate(items))
        return Condition(all_of=parts if key == "all" else (), any_of=parts if key == "any" else (),
                         reason=reason)  # fmt: skip
    if "not" in raw:
        return Condition(negate=parse_condition(raw["not"], f"{where}.not"), reason=reason)
    if "q" not in raw:
        raise ValueError(f"{where}: needs `q` (a question id), `all`, `any`, `not` or `always`")
    ops = [op for op in OPERATORS if op in raw]
    if len(ops) != 1:
        raise ValueError(f"{where}: needs exactly one operator of {', '.join(OPERATORS)}")
    field = raw.get("field")
    if field not in (None, "left", "right", "min", "max", "diff"):
        raise ValueError(f"{where}.field: {field!r} is not one of left, right, min, max, diff")
    atom = Atom(question=str(raw["q"]), op=ops[0], value=raw[ops[0]], field=field)
    return Condition(atom=atom, reason=reason)
