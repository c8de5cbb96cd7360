"""Score held-out texts (bench/heldout/*.yaml, corpus format) as the engine acts on them.

Run: `.venv/bin/python bench/heldout/score.py [--spread] [--code DIR] [FILE ...]`. Per red-flag concept:
recall and false alarms, counting what the engine would act on (a free-text flag fires; a menu
pick fires unless the bot asks first; a pick "asked first" is counted apart); the share of texts
with no red flag that would page staff; callback and opt-out intent (STOP keywords as the engine
reads them); answers. `--spread` reads every text that names no question at seven questions.
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import yaml

# --code DIR scores another checkout's code and config (the baseline) with the same texts.
_CODE = sys.argv.index("--code") if "--code" in sys.argv else None
ROOT = Path(sys.argv.pop(_CODE + 1)) if _CODE else Path(__file__).resolve().parents[2]
if _CODE:
    sys.argv.pop(_CODE)
sys.path.insert(0, str(ROOT.resolve()))

from bot.config import load_config  # noqa: E402
from bot.core.answers import clean, keyword_of  # noqa: E402
from bot.core.understanding import understand  # noqa: E402

# Filled from the lexicon in main(): the red-flag concepts, and which concept each option means.
RED: list[str] = []
OPTION_CONCEPT: dict[str, str] = {}


def answered(r, value=None) -> set[str]:
    """Red-flag concepts picked from the menu (triage reads them from the answer, not from flags)."""
    value = r.answer if value is None else value
    vals = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    return {OPTION_CONCEPT.get(v, v) for v in vals} & set(RED)


def same(a, b):
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(abs(a[k] - b[k]) < 0.11 for k in a)
    return a == b


SPREAD = (None, "consent", "red_flags", "systemic", "location", "pain_run", "settles")
TODAY = date(2026, 12, 1)


class Tally:
    """Counts, per concept and per check, over every case read."""

    def __init__(self, book: Any) -> None:
        self.book = book
        self.tp, self.fn, self.fp, self.neg = Counter(), Counter(), Counter(), Counter()
        self.paged = Counter()  # benign texts: n, paged, asked; red-flag texts: asked_first
        self.intent = {k: Counter() for k in ("callback", "opt_out")}
        self.answers = Counter()
        self.misses: list[str] = []

    def read(self, case: dict[str, Any]) -> None:
        book = self.book
        q = book.flow.question(case["question"]) if case.get("question") else None
        r = understand(case["text"], q, book.lexicons["en"], book.reader,
                       keywords=book.keywords.all, lang="en", today=TODAY)  # fmt: skip
        where = f"{case.get('question')}: {case['text']!r}"
        expect = case["expect"]
        if "flags" in expect:
            self.flags(r, set(expect["flags"]), where)
        for k in self.intent:
            if k in expect:
                self.intended(r, k, expect[k], case["text"])
        if "answer" in expect:
            self.answered(r, expect["answer"], where)
        if expect.get("confirm") is False and r.confirm:
            self.answers["confirmed"] += 1
            self.misses.append(f"CONFIRMED plain answer {where}")

    def flags(self, r: Any, want: set[str], where: str) -> None:
        # As the engine acts: flags fire at once, with the typed answer beside them (main before
        # the review dropped it: no `sure`); a menu pick fires unless the bot asks first.
        sure = answered(r, r.sure) if r.flags and hasattr(r, "sure") else set()
        got = set(r.flags) | sure | (set() if r.confirm or r.flags else answered(r))
        asked = (answered(r) - got) if r.confirm else set()
        for k in RED:
            if k in want:
                (self.tp if k in got else self.fn)[k] += 1
            else:
                self.neg[k] += 1
                self.fp[k] += k in got
        if not want:
            self.paged.update(n=1, paged=bool(got), asked=bool(asked))
        else:
            self.paged.update(asked_first=bool(want & asked - got))
        if asked:
            self.misses.append(f"ASKED {where} asks about {sorted(asked)}")
        if got != want:
            self.misses.append(f"FLAGS {where} want {sorted(want)} got {sorted(got)}")

    def intended(self, r: Any, k: str, want: bool, text: str) -> None:
        got = getattr(r, k)
        if k == "opt_out":  # as the engine's opt-out route decides: STOP keywords too
            kw = self.book.keywords
            got = got or kw.spelled(keyword_of(clean(text))) in kw.stop
            self.intent[k]["maybe"] += bool(not got and r.opt_out_maybe and want)
        self.intent[k].update(n=1, ok=int(got == want))
        if got != want:
            self.misses.append(f"{k.upper()}: {text!r} want {want} got {got}")

    def answered(self, r: Any, want: Any, where: str) -> None:
        ok = same(r.answer, want) or (isinstance(want, list) and isinstance(r.answer, list)
                                      and sorted(r.answer) == sorted(want))  # fmt: skip
        self.answers.update(n=1, ok=int(ok))
        if not ok:
            self.misses.append(f"ANSWER {where} want {want!r} got {r.answer!r} err={r.error}")

    def report(self) -> None:
        print(f"{'concept':24} recall        false alarms")
        for k in [*RED, "ALL"]:
            tp, fn, fp, neg = ((sum(c.values()) for c in (self.tp, self.fn, self.fp, self.neg))
                               if k == "ALL" else (self.tp[k], self.fn[k], self.fp[k], self.neg[k]))  # fmt: skip
            print(
                f"{k:24} {tp:>3}/{tp + fn:<3} {pct(tp, tp + fn):>6}   {fp:>2}/{neg:<4} {pct(fp, neg):>6}"
            )
        p = self.paged
        print(
            f"texts with no red flag that raised one: {p['paged']}/{p['n']} ({pct(p['paged'], p['n'])})"
        )
        print(f"benign texts asked to confirm a red-flag option: {p['asked']}; "
              f"red-flag texts asked first: {p['asked_first']}")  # fmt: skip
        for k, v in self.intent.items():
            maybe = f", {v['maybe']} of the misses asked to confirm" if v["maybe"] else ""
            print(f"{k}: {v['ok']}/{v['n']} ({pct(v['ok'], v['n'])}){maybe}")
        a = self.answers
        print(
            f"answers: {a['ok']}/{a['n']} ({pct(a['ok'], a['n'])}); plain answers confirmed: {a['confirmed']}"
        )
        print("\n".join(self.misses))


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def main() -> None:
    spread = "--spread" in sys.argv  # texts with no question also read at each of SPREAD
    files = [a for a in sys.argv[1:] if a != "--spread"] or sorted(
        str(p) for p in Path(__file__).parent.glob("*.yaml"))  # fmt: skip
    book = load_config(ROOT / "config").playbook
    lexicon = book.lexicons["en"]
    RED.extend(c.id for c in lexicon.concepts if c.red_flag)
    OPTION_CONCEPT.update({c.value: c.id for c in lexicon.concepts if isinstance(c.value, str)})
    tally = Tally(book)
    for f in files:
        cases = yaml.safe_load(Path(f).read_text(encoding="utf-8"))
        if spread:
            cases = [dict(c, question=q) for c in cases
                     if "question" not in c and "answer" not in c["expect"] for q in SPREAD]  # fmt: skip
        for case in cases:
            tally.read(case)
    tally.report()


if __name__ == "__main__":
    main()
