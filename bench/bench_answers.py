"""Answer parsing: corpus accuracy and cost against the parser before issue 10b, number-word
libraries side by side, and how often a typo guess would misread a word.

    python bench/bench_answers.py [--baseline REV]

The baseline is the answers module at REV (default: the commit before this work), loaded from
git into this process, so both run on the same machine in the same run.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import re
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_config  # noqa: E402
from bot.core import answers, typos  # noqa: E402
from bot.core.flow import Question  # noqa: E402
from bot.core.options import phrase_words  # noqa: E402
from bot.core.units import numbers_in  # noqa: E402
from bot.errors import AnswerError  # noqa: E402

BASELINE = "5af87d7"
MENU = re.compile(r"[0-9 ,]+|y|n|yes|no|skip|l \d+ r \d+")
TODAY = date(2026, 12, 1)
FLOW = load_config(ROOT / "config").playbook.flow
SPELLED = [  # (text, the numbers in it)
    ("forty five", [45]), ("forty-five", [45]), ("I'm thirty four", [34]), ("seven", [7]),
    ("seven out of ten", [7, 10]), ("one hundred and ten", [110]), ("sixty-two", [62]),
    ("twenty one", [21]), ("a solid six", [6]), ("zero", [0]), ("one and three", [1, 3]),
    ("two", [2]), ("L nine R twelve", [9, 12]), ("eleven out of ten", [11, 10]),
    ("fifty two years old", [52]), ("about three years", [3]), ("I am 61", [61]),
    ("ninety", [90]), ("eighteen", [18]), ("two point five", [2.5]), ("none", []),
    ("someone", []), ("seventy three", [73]), ("it's a four", [4]), ("ten", [10]),
]  # fmt: skip


def baseline_module(rev: str) -> Any:
    """The answers module as it was at `rev`, or None without git history."""
    try:
        source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:bot/core/answers.py"],
                                capture_output=True, text=True, check=True).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(tempfile.mkdtemp()) / "answers_baseline.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("answers_baseline", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["answers_baseline"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def baseline_parse(old: Any) -> Callable[[Question, str], Any]:
    def parse(q: Question, text: str) -> Any:
        value = old.parse_answer(q.kind, text, options=q.numbers, lo=q.lo, hi=q.hi)
        if q.kind == "single":
            return q.by_number(value).id
        if q.kind == "multi":
            return [q.by_number(n).id for n in value]
        return value

    return parse


def corpus() -> list[dict[str, Any]]:
    cases = []
    for path in sorted((ROOT / "tests" / "corpus").glob("answers_*.yaml")):
        cases += yaml.safe_load(path.read_text(encoding="utf-8"))
    return cases


def right(parse: Callable[[Question, str], Any], case: dict[str, Any]) -> bool:
    q = FLOW.question(case["question"])
    try:
        got: Any = parse(q, case["text"])
    except AnswerError as err:
        got = AnswerError(str(err))
    expect = case["expect"]
    if "error" in expect:  # the baseline named reasons differently: any re-prompt counts
        return isinstance(got, AnswerError)
    return not isinstance(got, AnswerError) and got == expect["answer"]


def timed(fn: Callable[[], Any], rounds: int = 200) -> tuple[float, float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e6)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def safe(fn: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        try:
            return fn()
        except (AnswerError, StopIteration, ValueError, KeyError):
            return None

    return run


def per_case_us(parse: Callable[[Question, str], Any], cases: list[dict[str, Any]]) -> list[float]:
    """The median time of each case's parse (20 runs each), in µs."""
    out = []
    for c in cases:
        run = safe(lambda c=c: parse(FLOW.question(c["question"]), c["text"]))
        out.append(timed(run, 20)[0])
    return sorted(out)


def accuracy(old: Any) -> None:
    cases = corpus()
    now = lambda q, t: q.parse(t, today=TODAY)  # noqa: E731
    rows = [("this branch", now)] + ([("baseline", baseline_parse(old))] if old else [])
    menu = [c for c in cases if MENU.fullmatch(c["text"].strip().lower())]
    free = [c for c in cases if c not in menu]
    print("| parser | corpus right | menu answers right | menu µs p50 / p99 "
          "| free text µs p50 / p99 |\n|---|---|---|---|---|")  # fmt: skip
    for name, parse in rows:
        ok = sum(right(parse, c) for c in cases)
        ok_menu = sum(right(parse, c) for c in menu)
        m, f = per_case_us(parse, menu), per_case_us(parse, free)
        print(
            f"| {name} | {ok}/{len(cases)} ({ok / len(cases):.0%}) | {ok_menu}/{len(menu)} "
            f"| {pct(m, 50):.0f} / {pct(m, 99):.0f} | {pct(f, 50):.0f} / {pct(f, 99):.0f} |"
        )


def pct(values: list[float], p: int) -> float:
    return values[min(len(values) - 1, len(values) * p // 100)]


def number_words(old: Any) -> None:
    libs: list[tuple[str, Callable[[str], list[float]]]] = [
        ("text2num (chosen)", lambda t: numbers_in(answers.words_to_numbers(t)))
    ]
    if old is not None:
        libs.append(("hand-made (baseline)", lambda t: old.numbers_in(t)))
    try:
        from number_parser import parse as np_parse

        libs.append(("number-parser", lambda t: numbers_in(np_parse(t))))
    except ImportError:
        print("(number-parser not installed: pip install number-parser to compare)")
    try:
        from word2number import w2n

        libs.append(("word2number", lambda t: [float(w2n.word_to_num(t))]))
    except ImportError:
        print("(word2number not installed: pip install word2number to compare)")
    print("\n| number words | right | µs per text (p50) |\n|---|---|---|")
    for name, fn in libs:
        ok = sum(safe(lambda f=fn, t=t: f(t))() == [float(n) for n in want] for t, want in SPELLED)
        p50, _ = timed(lambda f=fn: [safe(lambda t=t: f(t))() for t, _ in SPELLED], 50)
        print(f"| {name} | {ok}/{len(SPELLED)} | {p50 / len(SPELLED):.1f} |")


def typo_rates() -> None:
    keywords = load_config(ROOT / "config").playbook.keywords.all
    yes_no = frozenset(answers.TYPO_YES_NO)
    real = typos.english_words()
    rng = random.Random(10)
    noise = {
        "".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 7))) for _ in range(50000)
    }
    print("\n| typo targets | one-slip misspellings read | real words among them (left unread) "
          "| dictionary words misread | random strings misread |\n|---|---|---|---|---|")  # fmt: skip
    option_words = frozenset(
        w for q in FLOW.questions.values() for o in q.options for p in (o.label, *o.synonyms)
        for w in phrase_words(p) if w.isalpha() and len(w) >= 6
    )  # fmt: skip
    for name, targets, subs in (("keywords", keywords, False), ("yes/no", yes_no, True),
                                ("option words (6+ letters)", option_words, True)):  # fmt: skip
        slips = {s for t in targets for s in typos._slips(t, subs)} - targets
        read = sum(1 for s in slips if typos.typo_of(s, targets, substitutions=subs))
        real_slips = len(slips & real)
        misread = sum(1 for w in real - targets if typos.typo_of(w, targets, substitutions=subs))
        rand = sum(1 for w in noise - real if typos.typo_of(w, targets, substitutions=subs))
        print(f"| {name} | {read}/{len(slips)} | {real_slips} | {misread}/{len(real)} "
              f"| {rand}/{len(noise - real)} ({rand / len(noise - real):.2%}) |")  # fmt: skip


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--baseline", default=BASELINE)
    old = baseline_module(args.parse_args().baseline)
    accuracy(old)
    number_words(old)
    typo_rates()
    return 0


if __name__ == "__main__":
    sys.exit(main())
