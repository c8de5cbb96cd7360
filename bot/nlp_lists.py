"""Context the medspaCy adapter adds after ConText, from a mention's neighbours.

- A negation reaches over a comma list closed by "or"/"nor" ("no chest pain, swelling or fever");
  ConText itself stops every scope at a comma.
- A symptom asked back and answered no is negated ("chest pain? no").

The function words below are English. For another language the rules simply find fewer lists
(ConText's own rules from its lexicon still apply); moving these words into the lexicon is the
next step when a second language needs them.
"""

from __future__ import annotations

from typing import Any

from bot.core.lexicon import AFFIRMED

# A comma list a negation reaches over ("no A, B or C"): at most LIST_ITEM words an item, closed
# by LIST_CLOSE, and never over a word that starts a new clause.
LIST_ITEM = 4
LIST_CLOSE = frozenset({"or", "nor"})
LIST_BREAK = frozenset({"but", "and", "my", "i", "im", "ive", "id", "it", "its", "is", "are", "was",
                        "were", "am", "has", "have", "had", "got", "get", "feel", "feels", "felt",
                        "now", "still", "also", "so", "because", "bc", "cuz", "though", "although",
                        "tho", "except", "yet", "which", "just", "today", "since"})  # fmt: skip
ASKED_BACK = frozenset({"?", ":", "-", "="})
NO_WORDS = frozenset({"no", "nope", "nah", "never", "none", "negative", "nothing", "n"})
NOT_AN_ANSWER = frozenset({"idea", "clue", "doubt", "wonder", "joke", "kidding", "lie", "lies"})


def list_negations(doc: Any, contexts: list[str]) -> list[str]:
    """A negation reaches over a comma list closed by "or"/"nor": "no chest pain, swelling or
    fever", "no numbness, tingling, fever or weight loss". ConText stops at the comma; a list
    with a new clause in it ("no fever, but my calf is hot") or closed by "and" stays cut."""
    out = list(contexts)
    ents = list(doc.ents)
    for i, ent in enumerate(ents):
        if out[i] != "negated":
            continue
        end = _list_end(doc, ent.end)
        for j in range(i + 1, len(ents)):
            if ents[j].start < end and out[j] == AFFIRMED:
                out[j] = "negated"
    return out


def _list_end(doc: Any, start: int) -> int:
    """Where a list ", B, C or D" right after a mention ends (`start` when there is none)."""
    comma, words = False, 0
    for i in range(start, len(doc)):
        word = doc[i].lower_
        if word == ",":
            comma, words = True, 0
        elif word in LIST_CLOSE:
            return _item_end(doc, i + 1) if comma else start
        elif word in LIST_BREAK or doc[i].is_punct or words >= LIST_ITEM:
            return start
        else:
            words += 1
    return start


def _item_end(doc: Any, start: int) -> int:
    end = start
    while end < len(doc) and end - start < LIST_ITEM and not doc[end].is_punct:
        if doc[end].lower_ in LIST_BREAK:
            break
        end += 1
    return end


def answered_no(doc: Any, contexts: list[str]) -> list[str]:
    """A symptom asked back and answered no: "chest pain? no", "swelling - nope"."""
    out = list(contexts)
    for i, ent in enumerate(doc.ents):
        k = ent.end
        while k < len(doc) and k - ent.end < 2 and doc[k].lower_ not in ASKED_BACK:
            k += 1
        if k + 1 < len(doc) and doc[k].lower_ in ASKED_BACK and doc[k + 1].lower_ in NO_WORDS:
            after = doc[k + 2].lower_ if k + 2 < len(doc) else ""
            if after not in NOT_AN_ANSWER and out[i] == AFFIRMED:
                out[i] = "negated"
    return out
