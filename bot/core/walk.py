"""Walk every path of the questionnaire: each ends in one outcome; no red flag reaches exercises.

Answers are grouped into classes that every rule and branch treats alike (same truth value of
each test on that question, same red-flag status); one witness per class covers the whole
class, so the walk is exhaustive without trying all 10^9 raw answer combinations.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from bot.core.answers import KneeToWall
from bot.core.conditions import Atom
from bot.core.flow import END, Flow, Question
from bot.core.triage import Outcome, Rules

DECLINED = "declined"


@dataclass
class WalkReport:
    paths: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    rules_fired: Counter[str] = field(default_factory=Counter)
    longest_reasons: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def _domain(q: Question, thresholds: Iterable[float]) -> list[Any]:
    if q.kind == "yes_no":
        return [True, False]
    if q.kind == "integer":
        return list(range(q.lo, q.hi + 1))
    if q.kind == "single":
        return [o.id for o in q.options]
    if q.kind == "multi":
        picks = list(q.option_ids())
        return [list(c) for n in range(len(picks) + 1) for c in combinations(picks, n)]
    grid = {x / 2 for x in range(0, 2 * q.hi + 1)}
    for t in thresholds:
        grid |= {t - 0.1, t, t + 0.1, t + 1.9, t + 2.0, t + 2.1}
    values = sorted(v for v in grid if 0 <= v <= q.hi)
    pairs = [KneeToWall(a, b).to_json() for a in values for b in values]
    return [KneeToWall(None, None).to_json(), *pairs]


def witnesses(q: Question, atoms: list[Atom]) -> list[Any]:
    """One answer per class of answers that all tests on `q` treat alike."""
    mine = [a for a in atoms if a.question == q.id]
    numbers = [float(a.value) for a in mine if isinstance(a.value, int | float)
               and not isinstance(a.value, bool)]  # fmt: skip
    classes: dict[tuple[bool, ...], Any] = {}
    for value in _domain(q, numbers):
        signature = (*(a.holds({q.id: value}) for a in mine), q.is_red_flag(value))
        classes.setdefault(signature, value)
    return list(classes.values())


def walk(flow: Flow, rules: Rules) -> WalkReport:
    atoms = [a for r in rules.rules for a in r.when.atoms()]
    atoms += [a for q in flow.questions.values() for b in q.next if b.when for a in b.when.atoms()]
    reps = {qid: witnesses(q, atoms) for qid, q in flow.questions.items()}
    report = WalkReport()
    stack: list[tuple[str, dict[str, Any], bool]] = [(flow.start, {}, False)]
    while stack:
        qid, answers, red = stack.pop()
        q = flow.question(qid)
        for value in reps[qid]:
            now = {**answers, qid: value}
            flagged = red or q.is_red_flag(value)
            if q.stop_if is not None and value == q.stop_if:
                report.paths += 1
                report.outcomes[DECLINED] += 1
                continue
            outcome = rules.evaluate_early(now)
            nxt = flow.next_step(qid, now) if outcome is None else END
            if nxt != END:
                stack.append((nxt, now, flagged))
                continue
            outcome = outcome or rules.evaluate(now)
            _record(report, outcome, now, flagged)
    for rule in rules.rules:
        if not report.rules_fired[rule.id]:
            report.problems.append(f"rule {rule.id!r} is never reached by any path")
    return report


def _record(
    report: WalkReport, outcome: Outcome | None, answers: dict[str, Any], red: bool
) -> None:
    report.paths += 1
    if outcome is None:
        if len(report.problems) < 20:
            report.problems.append(f"no rule matches the answers {answers}")
        return
    report.outcomes[outcome.level] += 1
    report.rules_fired[outcome.rule] += 1
    if len(outcome.reasons) > len(report.longest_reasons.get(outcome.level, ())):
        report.longest_reasons[outcome.level] = outcome.reasons
    if red and outcome.level == "exercises" and len(report.problems) < 20:
        report.problems.append(f"a red-flag answer reaches exercises: {answers}")
