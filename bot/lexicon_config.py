"""Load config/lexicon/<lang>.yaml into Lexicons, cross-checked against the questionnaire and rules."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.config_schema import ConceptModel, ContextModel, LexiconModel
from bot.core.flow import Flow
from bot.core.lexicon import (
    Concept,
    ContextRule,
    Lexicon,
    TokenPattern,
    compile_pattern,
    pattern_words,
)
from bot.core.triage import Rules
from bot.errors import ConfigError

GAP_STOPS = (".", "!", "?", ";", "but", "though", "although", "tho", "however", "except", "yet",
             "whereas")  # fmt: skip
TYPO_CONTEXTS = ("hypothetical", "historical", "terminate", "affirm", "pseudo")
MIN_PHRASES = 3  # plain phrasings per red-flag concept, at least
MIN_PHRASINGS = 5  # phrases and patterns together, at least


def load_lexicons(directory: Path, flow: Flow) -> dict[str, Lexicon]:
    folder = directory / "lexicon"
    files = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    if not files:
        raise ConfigError(f"{folder}: no lexicon; copy config/lexicon/en.yaml from the project")
    out = {}
    for path in files:
        lexicon = load_lexicon(path, flow)
        if lexicon.lang != path.stem:
            raise ConfigError(
                f"{path}: key `lang` is {lexicon.lang!r}; name the file {lexicon.lang}.yaml"
            )
        out[lexicon.lang] = lexicon
    if "en" not in out:
        raise ConfigError(f"{folder}: en.yaml is required (the fallback language)")
    return out


def load_lexicon(path: Path, flow: Flow) -> Lexicon:
    source = path.read_text(encoding="utf-8")
    model = _model(path, source)
    words = {**model.words, **model.intent_words}
    # A pattern's gap never skips a negation, a "but", or the end of a sentence.
    negations = [p.replace("'", "") for p in (*model.context.negated.forward, *model.context.negated.both)
                 if " " not in p] + [*GAP_STOPS]  # fmt: skip
    concepts = tuple(
        _concept(c, words, negations, flow, f"{path}: concept {c.id}") for c in model.concepts
    )
    _check_coverage(concepts, flow, path)
    intents: dict[str, tuple[tuple[str, ...], tuple[TokenPattern, ...]]] = {
        name: (tuple(i.phrases), _patterns(i.patterns, words, negations, f"{path}: intents.{name}"))
        for name, i in model.intents.items()
    }
    return Lexicon(
        lang=model.lang, concepts=concepts, intents=intents, context=_context(model.context),
        answer_words=frozenset(w.lower() for w in model.answer_words),
        protected=frozenset(w.lower() for w in model.protected),
        contrast=frozenset(w.lower() for w in model.contrast),
        notable=_notable(model),
        vocabulary=_vocabulary(model, words, concepts, intents),
        digest=hashlib.sha256(source.encode()).hexdigest(),
    )  # fmt: skip


def _model(path: Path, source: str) -> LexiconModel:
    try:
        return LexiconModel.model_validate(yaml.safe_load(source))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    except ValidationError as err:
        lines = [f"{path}: key `{'.'.join(map(str, e['loc']))}`: {e['msg']}"
                 + (" (YAML reads yes/no/on/off as booleans: quote them)"
                    if isinstance(e.get("input"), bool) else "")
                 for e in err.errors()]  # fmt: skip
        raise ConfigError("\n".join(lines)) from err


def _vocabulary(model: LexiconModel, words: dict[str, list[str]], concepts: tuple[Concept, ...],
                intents: dict[str, tuple[tuple[str, ...], tuple[TokenPattern, ...]]]) -> frozenset[str]:  # fmt: skip
    """The words a typo may be read as."""
    vocabulary = {w.lower().replace("'", "") for group in words.values() for w in group}
    sources = [(c.phrases, c.patterns) for c in concepts] + list(intents.values())
    for phrases, patterns in sources:  # typos in "shoudl", "yeas ago", "bddy" too
        vocabulary |= {w for p in phrases for w in p.lower().split()}
        vocabulary |= {w for p in patterns for w in pattern_words(p)}
    # Typos are read as context words too ("shoudl I", "yeas ago", "0 excpet"), but never as
    # negations or relatives: "my bother chest pain" must not become "my brother['s] chest pain".
    vocabulary |= {w for r in _context(model.context) if r.category in TYPO_CONTEXTS
                   for w in r.phrase.lower().split()}  # fmt: skip
    return frozenset(w for w in vocabulary if w.isalpha() and len(w) >= 4)


def _notable(model: LexiconModel) -> frozenset[str]:
    """Words that make an unexplained part worth confirming: the clinic's list and the concept
    word groups' words, less the words that come with ordinary answers."""
    grouped = {w.lower().replace("'", "") for group in model.words.values() for w in group}
    listed = {w.lower() for w in model.notable}
    return frozenset((grouped | listed) - {w.lower() for w in model.answer_words})


def _patterns(
    raw: list[Any], words: dict[str, list[str]], negations: list[str], where: str
) -> tuple[TokenPattern, ...]:
    out = []
    for i, p in enumerate(raw):
        try:
            out.append(compile_pattern(p, words, negations) if isinstance(p, str) else list(p))
        except ValueError as err:
            raise ConfigError(
                f"{where}.patterns[{i}]: {err}; define the group under `words`"
            ) from err
    return tuple(out)


def _concept(
    c: ConceptModel, words: dict[str, list[str]], negations: list[str], flow: Flow, where: str
) -> Concept:
    question, value = _means(c, flow, where)
    few = len(c.phrases) < MIN_PHRASES or len(c.phrases) + len(c.patterns) < MIN_PHRASINGS
    if c.outcome is not None and few:
        raise ConfigError(f"{where}: too few phrasings ({len(c.phrases)} phrases, {len(c.patterns)} "
                              f"patterns); write at least {MIN_PHRASES} phrases and "
                              f"{MIN_PHRASINGS} phrasings in all, the way patients text")  # fmt: skip
    return Concept(c.id, question, value, c.outcome, tuple(c.phrases),
                   _patterns(c.patterns, words, negations, where), c.past_counts, c.partial)  # fmt: skip


def _means(c: ConceptModel, flow: Flow, where: str) -> tuple[str | None, Any]:
    if c.means is None:
        if c.outcome is None:
            raise ConfigError(f"{where}: give `means` (question and option) or an `outcome`")
        return None, None
    q = flow.questions.get(c.means.question)
    if q is None:
        raise ConfigError(f"{where}: means.question {c.means.question!r} is not a question id")
    if q.kind == "yes_no":
        if c.means.value is None:
            raise ConfigError(
                f"{where}: {q.id} is a yes/no question: give means.value true or false"
            )
        return q.id, c.means.value
    if c.means.option not in q.option_ids():
        raise ConfigError(f"{where}: means.option {c.means.option!r} is not an option of {q.id}; "
                          f"use one of {', '.join(q.option_ids())}")  # fmt: skip
    return q.id, c.means.option


def outcome_problems(lexicon: Lexicon, flow: Flow, rules: Rules) -> list[str]:
    """A concept's declared outcome must be what the triage rules give for its answer alone."""
    found = []
    for c in lexicon.concepts:
        if c.outcome is None or c.question is None:
            continue
        q = flow.question(c.question)
        got = rules.evaluate_early({q.id: [c.value] if q.kind == "multi" else c.value})
        level = got.level if got else None
        if level != c.outcome:
            found.append(f"lexicon/{lexicon.lang}.yaml: concept {c.id} says outcome {c.outcome} "
                         f"but triage.yaml gives {level} for {q.id} = {c.value}: make them agree")  # fmt: skip
    return found


def _check_coverage(concepts: tuple[Concept, ...], flow: Flow, path: Path) -> None:
    covered = {(c.question, c.value) for c in concepts if c.red_flag}
    for q in flow.questions.values():
        for option in q.red_flag_options:
            if (q.id, option) not in covered:
                raise ConfigError(f"{path}: red-flag option {q.id}: {option} has no concept; add "
                                  f"one with means: {{question: {q.id}, option: {option}}}")  # fmt: skip


def _context(model: ContextModel) -> tuple[ContextRule, ...]:
    rules: list[ContextRule] = []
    for category in ("negated", "historical", "hypothetical", "other_person", "partial", "pseudo",
                     "affirm"):  # fmt: skip
        directions = getattr(model, category)
        for direction in ("forward", "backward", "both"):
            rules += [ContextRule(category, p, direction) for p in getattr(directions, direction)]
    rules += [ContextRule("terminate", p, "both") for p in model.terminate]
    return tuple(rules)
