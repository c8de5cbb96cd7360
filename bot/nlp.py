"""medspaCy behind the core's Reader port: one silent pipeline per lexicon, built once per process.

TargetMatcher finds the lexicon's concepts and intents by token pattern; ConText decides, from the
clinic's own SMS-style rules (config/lexicon/*.yaml), whether each mention is negated, in the past,
hypothetical, about someone else, or a partial ability ("can't walk far"). Typos of lexicon words
are read as the word (rapidfuzz) before matching.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, NamedTuple

from loguru import logger
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from bot.core.lexicon import AFFIRMED, Lexicon, pattern_words
from bot.core.understanding import Found, Mention
from bot.nlp_lists import answered_no, list_negations

# PyRuSH logs each message's tokens at DEBUG through loguru: nothing may log message bodies.
logger.remove()
for _name in ("PyRuSH", "medspacy", "quickumls"):
    logger.disable(_name)


class _WithoutFastNER(logging.Filter):
    """PyFastNER (under PyRuSH) logs its rule syntax on the root logger for every message."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "PyFastNER" not in record.pathname


logging.getLogger().addFilter(_WithoutFastNER())

CATEGORY = {"negated": "NEGATED_EXISTENCE", "historical": "HISTORICAL",
            "hypothetical": "HYPOTHETICAL", "other_person": "FAMILY", "partial": "PARTIAL",
            "terminate": "TERMINATE", "affirm": "AFFIRM", "pseudo": "PSEUDO"}  # fmt: skip
CONTEXT_OF = {v: k for k, v in CATEGORY.items()}
# Which context wins when several apply to one mention (all of them mean "not affirmed").
PRECEDENCE = ("other_person", "hypothetical", "negated", "historical", "partial")
CONTRACTIONS = ("cant", "cannot", "dont", "didnt", "doesnt", "wont", "isnt", "wasnt", "arent",
                "werent", "havent", "hasnt", "hadnt", "aint", "couldnt", "wouldnt", "shouldnt",
                "im", "ive", "its", "id", "ill", "youre", "theyre", "thats", "whats", "lets",
                "gonna", "wanna", "gotta", "hes", "shes", "theres", "ill", "youll", "weve")  # fmt: skip
PARTIAL_SCOPE = 4  # "can't walk far": the limit is said right next to the inability
_WORD = re.compile(r"[a-z]+")
_SYMBOLS = re.compile(r"[^\w\s.,;:!?'/&-]+")
_IS = re.compile(r"\b(it|that|what|there|he|she|let|here|who|where)'s\b")
_LOCK = threading.Lock()


def plain(text: str) -> str:
    """Lower case, apostrophes dropped (can't -> cant), 'can not' -> 'cannot'."""
    text = text.lower().replace("’", "'").replace("‘", "'")
    text = _SYMBOLS.sub(" ", text)  # emoji and symbols carry no clinical words (and a run of
    # 1,600 of them costs spaCy's tokenizer a third of a second)
    text = _IS.sub(r"\1s", text)  # it's -> its (one word), but my wife's calf -> my wife s calf
    text = text.replace("'s ", " s ").replace("'", "")
    text = re.sub(r"(?<=[a-z])[-_/](?=[a-z])", " ", text)  # chest-pain, numb/tingly
    return re.sub(r"\bcan not\b", "cannot", text)


class MedspacyReader:
    """The Reader port over medspaCy; pipelines are shared by every reader in the process."""

    def __init__(self, lexicons: Mapping[str, Lexicon]) -> None:
        self.lexicons = dict(lexicons)

    def warm(self) -> None:
        """Load every pipeline now (about 0.7 s each): processes that read messages call this at
        start, so no message waits for it; the worker and the CLI never pay for it."""
        for lexicon in self.lexicons.values():
            _pipeline(lexicon)

    def read(self, text: str, lang: str) -> Found:
        lexicon = self.lexicons.get(lang) or self.lexicons["en"]
        nlp, vocabulary, partial_ok, gaps = _pipeline(lexicon)
        doc = nlp.make_doc(_corrected(plain(text), vocabulary, lexicon.protected))
        gaps.mark(doc)
        for _, step in nlp.pipeline:
            doc = step(doc)
        contexts = [_context(ent, partial_ok) for ent in doc.ents]
        contexts = answered_no(doc, list_negations(doc, contexts))
        mentions = tuple(
            Mention(e.label_, e.text, c) for e, c in zip(doc.ents, contexts, strict=True)
        )
        covered = {i for ent in doc.ents for i in range(ent.start, ent.end)}
        for ent in doc.ents:
            for mod in ent._.modifiers:
                covered.update(range(*mod.modifier_span))
        leftover = tuple(
            t.lower_ for t in doc
            if t.i not in covered and t.is_alpha and not t.is_stop and len(t) >= 3
            and t.lower_ not in CONTRACTIONS
        )  # fmt: skip
        return Found(mentions, leftover)


def _context(ent: Any, partial_ok: frozenset[str]) -> str:
    found: set[str] = set()
    for mod in ent._.modifiers:
        start, end = mod.modifier_span
        if ent.start <= start and end <= ent.end:
            continue  # "can't" inside "can't breathe" is the symptom, not a negation of it
        found.add(CONTEXT_OF.get(mod.category, mod.category))
    if "affirm" in found:  # "never felt chest pain like this": a pseudo-negation
        found = set()
    found.discard("pseudo")  # "no my chest hurts": the longer match took the place of "no"
    if ent.label_ not in partial_ok:
        found.discard("partial")
    return next((c for c in PRECEDENCE if c in found), AFFIRMED)


def _corrected(text: str, vocabulary: tuple[str, ...], protected: frozenset[str]) -> str:
    return _WORD.sub(lambda m: _fix(m.group(0), vocabulary, protected), text)


@lru_cache(maxsize=50_000)
def _fix_cached(word: str, vocabulary: tuple[str, ...], protected: frozenset[str]) -> str:
    if len(word) < 4 or word in protected or word in vocabulary:
        return word
    if len(word) == 4:  # short words: swapped letters ("pian") or one dropped ("chet", "niht")
        near = [v for v in vocabulary if v[0] == word[0] and _swapped_or_dropped(word, v)]
        return near[0] if near else word
    limit = 1  # two edits turn real words into symptoms ("radiating" -> "radiation")
    candidates = [v for v in vocabulary if v[0] == word[0] and abs(len(v) - len(word)) <= limit]
    found = process.extract(word, candidates, scorer=DamerauLevenshtein.distance,
                            score_cutoff=limit, limit=None)  # fmt: skip
    if not found:
        return word
    best = min(score for _, score, _ in found)
    nearest = sorted((str(v) for v, score, _ in found if score == best), key=vocabulary.index)
    # "sgins" is "signs" (swapped letters), not "shins"; "swelld" is "swelled" (a dropped
    # letter), not "swells": prefer those, the commonest typos, over a changed letter.
    likely = [v for v in nearest if _swapped_or_dropped(word, v)]
    return (likely or nearest)[0]


def _swapped_or_dropped(word: str, target: str) -> bool:
    if len(target) == len(word):
        return sorted(target) == sorted(word) and DamerauLevenshtein.distance(word, target) == 1
    return len(target) == len(word) + 1 and any(
        target[:i] + target[i + 1 :] == word for i in range(len(target))
    )


def _fix(word: str, vocabulary: tuple[str, ...], protected: frozenset[str]) -> str:
    return _fix_cached(word, vocabulary, protected)


class Gaps:
    """Which words a pattern gap may skip: not a negation ("calf isn't swollen" is no swollen
    calf), unless it is part of a pseudo phrase the lexicon lists ("a cramp that won't go away,
    and it's swollen" is a swollen calf)."""

    def __init__(self, nlp: Any, never: frozenset[str], pseudo: Iterable[str]) -> None:
        from spacy.matcher import PhraseMatcher
        from spacy.tokens import Token

        Token.set_extension("gap_ok", default=True, force=True)
        self.never = never
        self.pseudo = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.pseudo.add("pseudo", [nlp.make_doc(plain(p)) for p in pseudo])

    def mark(self, doc: Any) -> None:
        for token in doc:
            token._.gap_ok = token.lower_ not in self.never
        for _, start, end in self.pseudo(doc):
            for token in doc[start:end]:
                token._.gap_ok = True


class Built(NamedTuple):
    nlp: Any
    vocabulary: tuple[str, ...]
    partial_ok: frozenset[str]
    gaps: Gaps


_PIPELINES: dict[str, Built] = {}


def _pipeline(lexicon: Lexicon) -> Built:
    with _LOCK:
        if lexicon.digest not in _PIPELINES:
            _PIPELINES[lexicon.digest] = _build(lexicon)
        return _PIPELINES[lexicon.digest]


def _build(lexicon: Lexicon) -> Built:
    import medspacy
    from medspacy.context import ConTextRule
    from medspacy.ner import TargetRule

    nlp = medspacy.load(medspacy_enable=["medspacy_pyrush", "medspacy_target_matcher"])
    for word in CONTRACTIONS:
        nlp.tokenizer.add_special_case(word, [{"ORTH": word}])
    # medspaCy's default ConText rules are written for clinical notes ("patient denies"); the
    # clinic's SMS-style rules replace them.
    context = nlp.add_pipe("medspacy_context", config={"rules": None})
    targets: list[Any] = []
    for concept in lexicon.concepts:
        targets += _targets(TargetRule, concept.id, concept.phrases, concept.patterns)
    for name, (phrases, patterns) in lexicon.intents.items():
        targets += _targets(TargetRule, f"intent:{name}", phrases, patterns)
    nlp.get_pipe("medspacy_target_matcher").add(targets)
    rules = [
        ConTextRule(f"{r.category}/{r.direction}/{r.phrase}", CATEGORY[r.category], direction=_direction(r.category, r.direction),
                    pattern=[{"LOWER": w} for w in plain(r.phrase).split()])
        for r in lexicon.context
    ]  # fmt: skip
    rules.append(
        ConTextRule(
            "<punctuation>", "TERMINATE", direction="TERMINATE", pattern=[{"IS_PUNCT": True}]
        )
    )
    context.add(rules)
    partial_ok = frozenset(c.id for c in lexicon.concepts if c.partial)
    # When a typo is as close to two words, the one more word groups use wins ("hurs" is "hurts",
    # in three symptom groups, rather than "hours").
    uses = Counter(w for c in lexicon.concepts for p in c.patterns for w in pattern_words(p))
    vocabulary = tuple(sorted(lexicon.vocabulary, key=lambda w: (-uses[w], w)))
    never = frozenset(w for c in lexicon.concepts for p in c.patterns for w in _never_skip(p))
    pseudo = [r.phrase for r in lexicon.context if r.category == "pseudo"]
    return Built(nlp, vocabulary, partial_ok, Gaps(nlp, never, pseudo))


def _never_skip(pattern: list[dict[str, Any]]) -> set[str]:
    lowers = (t.get("LOWER") for t in pattern)
    return {plain(w) for low in lowers if isinstance(low, dict) for w in low.get("NOT_IN", ())}


def _targets(
    rule: Any, label: str, phrases: Iterable[str], patterns: Iterable[list[dict[str, Any]]]
) -> list[Any]:
    out = [rule(plain(p), label) for p in phrases]
    out += [rule(f"{label}#{i}", label, pattern=_plain_pattern(p)) for i, p in enumerate(patterns)]
    return out


def _plain_pattern(pattern: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for token in pattern:
        lower = token.get("LOWER")
        if isinstance(lower, dict) and "NOT_IN" in lower and "OP" in token:  # a gap: see Gaps
            token = {"_": {"gap_ok": True}, **{k: v for k, v in token.items() if k != "LOWER"}}
        elif isinstance(lower, str):
            token = {**token, "LOWER": plain(lower)}
        elif isinstance(lower, dict):
            token = {**token, "LOWER": {k: [plain(w) for w in v] for k, v in lower.items()}}
        out.append(token)
    return out


def _direction(category: str, direction: str) -> str:
    if category == "terminate":
        return "TERMINATE"
    return {"forward": "FORWARD", "backward": "BACKWARD"}.get(direction, "BIDIRECTIONAL")
