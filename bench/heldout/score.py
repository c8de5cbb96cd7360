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


def main() -> None:
    spread = "--spread" in sys.argv  # texts with no question also read at each of these questions
    args = [a for a in sys.argv[1:] if a != "--spread"]
    files = args or sorted(str(p) for p in Path(__file__).parent.glob("*.yaml"))
    book = load_config(ROOT / "config").playbook
    lexicon = book.lexicons["en"]
    RED.extend(c.id for c in lexicon.concepts if c.red_flag)
    OPTION_CONCEPT.update({c.value: c.id for c in lexicon.concepts if isinstance(c.value, str)})
    tp, fn, fp, neg = Counter(), Counter(), Counter(), Counter()
    page_fa = page_n = asked_benign = asked_real = 0
    intent = {k: Counter() for k in ("callback", "opt_out")}
    ans_ok = ans_n = conf_bad = 0
    misses = []
    for f in files:
        cases = yaml.safe_load(Path(f).read_text())
        if spread:
            cases = [
                dict(c, question=q)
                for c in cases
                if "question" not in c and "answer" not in c["expect"]
                for q in (
                    None,
                    "consent",
                    "red_flags",
                    "systemic",
                    "location",
                    "pain_run",
                    "settles",
                )
            ]
        for c in cases:
            q = book.flow.question(c["question"]) if c.get("question") else None
            r = understand(
                c["text"],
                q,
                book.lexicons["en"],
                book.reader,
                keywords=book.keywords.all,
                lang="en",
                today=date(2026, 12, 1),
            )
            e = c["expect"]
            # As the engine acts: flags fire at once; a menu pick fires unless the bot asks first.
            # (main before the review dropped the typed answer when a flag fired: no `sure`)
            sure = answered(r, r.sure) if r.flags and hasattr(r, "sure") else set()
            got = set(r.flags) | sure | (set() if r.confirm or r.flags else answered(r))
            asked = (answered(r) - got) if r.confirm else set()
            if "flags" in e:
                want = set(e["flags"])
                for k in RED:
                    if k in want:
                        (tp if k in got else fn)[k] += 1
                    else:
                        neg[k] += 1
                        fp[k] += k in got
                if not want:
                    page_n += 1
                    page_fa += bool(got)
                    asked_benign += bool(asked)
                else:
                    asked_real += bool(want & asked - got)
                if asked:
                    misses.append(
                        f"ASKED {c.get('question')}: {c['text']!r} asks about {sorted(asked)}"
                    )
                if got != want:
                    misses.append(
                        f"FLAGS {c.get('question')}: {c['text']!r} want {sorted(want)} got {sorted(got)}"
                    )
            for k in intent:
                if k in e:
                    v = getattr(r, k)
                    if k == "opt_out":  # as the engine's opt-out route decides: STOP keywords too
                        v = (
                            v
                            or book.keywords.spelled(keyword_of(clean(c["text"])))
                            in book.keywords.stop
                        )
                        if not v and r.opt_out_maybe and e[k]:
                            intent[k]["maybe"] += 1
                    intent[k]["n"] += 1
                    intent[k]["ok"] += v == e[k]
                    if v != e[k]:
                        misses.append(f"{k.upper()}: {c['text']!r} want {e[k]} got {v}")
            if "answer" in e:
                ans_n += 1
                ok = same(r.answer, e["answer"]) or (
                    isinstance(e["answer"], list)
                    and isinstance(r.answer, list)
                    and sorted(r.answer) == sorted(e["answer"])
                )
                ans_ok += ok
                if not ok:
                    misses.append(
                        f"ANSWER {c.get('question')}: {c['text']!r} want {e['answer']!r} got {r.answer!r} err={r.error}"
                    )
            if e.get("confirm") is False and r.confirm:
                conf_bad += 1
                misses.append(f"CONFIRMED plain answer {c.get('question')}: {c['text']!r}")
    print(f"{'concept':24} recall        false alarms")
    for k in RED:
        n = tp[k] + fn[k]
        print(
            f"{k:24} {tp[k]:>3}/{n:<3} {100 * tp[k] / n if n else float('nan'):5.1f}%   {fp[k]:>2}/{neg[k]:<3} {100 * fp[k] / neg[k]:4.1f}%"
        )
    T, N = sum(tp.values()), sum(tp.values()) + sum(fn.values())
    print(
        f"{'ALL':24} {T:>3}/{N:<3} {100 * T / N:5.1f}%   {sum(fp.values())}/{sum(neg.values())} {100 * sum(fp.values()) / sum(neg.values()):4.2f}%"
    )
    print(
        f"texts with no red flag that raised one: {page_fa}/{page_n} ({100 * page_fa / page_n:.1f}%)"
    )
    print(
        f"benign texts asked to confirm a red-flag option: {asked_benign}; red-flag texts asked first: {asked_real}"
    )
    for k, v in intent.items():
        print(
            f"{k}: {v['ok']}/{v['n']} ({100 * v['ok'] / max(v['n'], 1):.1f}%)"
            + (f", {v['maybe']} of the misses asked to confirm" if v["maybe"] else "")
        )
    print(
        f"answers: {ans_ok}/{ans_n} ({100 * ans_ok / max(ans_n, 1):.1f}%); plain answers confirmed: {conf_bad}"
    )
    print("\n".join(misses))


if __name__ == "__main__":
    main()
