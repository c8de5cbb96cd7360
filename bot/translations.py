"""Translations never lag silently: each records the version of the source it translates.

A translated template (templates/sms|chat|web/LANG/NAME) starts with
`{# translates sms/NAME.j2 @ HASH #}`; a language file
(config/lang/CODE.yaml) has `translates: {section: HASH}`. HASH is the first 12 hex digits of
the SHA-256 of the source content. `problems()` lists every missing or outdated translation
(check-config fails on them); `stamp()` records the current source versions after a review.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from bot.config import Config
from bot.lang_config import LANG_DIR

STAMP = re.compile(r"\A\{#\s*translates\s+(\S+)\s+@\s+(\w+)\s*#\}\n?")
STAFF_ONLY = "staff_"  # staff messages are in the clinic's own language only
BUILT_IN_REASONS = ("you described a possible emergency", "we need a clinician to look at this")


def digest(data: Any) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data, sort_keys=True).encode()
    return hashlib.sha256(raw).hexdigest()[:12]


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def section_sources(config_dir: Path) -> dict[str, Any]:
    """The English content each section of a language file translates."""
    q = _yaml(config_dir / "questionnaire.yaml")
    kw = {k: v for k, v in _yaml(config_dir / "keywords.yaml").items() if k != "emergency_phrases"}
    ex = _yaml(config_dir / "exercises.yaml")
    return {
        "questionnaire": [
            {"id": x.get("id"), "yes": x.get("yes_words", []), "no": x.get("no_words", []),
             "unsure": x.get("unsure", ""),
             "options": [[o.get("id"), o.get("label"), o.get("synonyms", [])]
                         for o in x.get("options", [])]}
            for x in q.get("questions", [])
        ],
        "keywords": kw,
        "exercises": [[e.get("id"), e.get("name"), e.get("dose"), e.get("how")]
                      for e in ex.get("exercises", [])]
        + [ex.get("reminder_plan", {}).get("default_time_words", {})],
        "reasons": sorted(reasons_in(_yaml(config_dir / "triage.yaml"))),
        "clinic": _yaml(config_dir / "clinic.yaml").get("message_frequency", ""),
    }  # fmt: skip


def reasons_in(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("reason"), str):
            yield node["reason"]
        for value in node.values():
            yield from reasons_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from reasons_in(item)


def template_pairs(template_dir: Path, lang: str) -> Iterator[tuple[Path, Path]]:
    """(source, translation) for every message a person can get, SMS and web chat."""
    for kind in ("sms", "chat", "web"):
        for source in sorted(p for p in (template_dir / kind).glob("*") if p.is_file()):
            if not source.stem.startswith(STAFF_ONLY):
                yield source, template_dir / kind / lang / source.name


def template_problems(template_dir: Path, lang: str) -> list[str]:
    found = []
    for source, translated in template_pairs(template_dir, lang):
        rel = source.relative_to(template_dir).as_posix()
        if not translated.is_file():
            found.append(f"{translated}: missing; translate {source}")
            continue
        stamp = STAMP.match(translated.read_text(encoding="utf-8"))
        if stamp is None or stamp[1] != rel:
            found.append(f"{translated}: no `{{# translates {rel} @ HASH #}}` first line")
        elif stamp[2] != digest(source.read_bytes()):
            found.append(f"{translated}: {source} changed after this translation; update it, "
                         f"then `bot translations --stamp {translated}`")  # fmt: skip
    return found


def lang_file_problems(config: Config, lang: str) -> list[str]:
    """Stale sections and any content of the source without a version in `lang`."""
    t = config.translations[lang]
    path, model = t.path, t.model
    found = [
        f"{path}: section `{name}`: the English source changed after this translation; update "
        f"it, then `bot translations --stamp {path}`"
        for name, source in section_sources(config.directory).items()
        if model.translates.get(name) != digest(source)
    ]
    for q in config.playbook.flow.questions.values():
        mine = model.questions.get(q.id)
        if mine is None:
            found.append(f"{path}: questions.{q.id}: missing")
            continue
        if getattr(q, "unsure", "") and not mine.unsure:
            found.append(f"{path}: questions.{q.id}.unsure: missing")
        found += [f"{path}: questions.{q.id}.options.{o.id}: missing (label and synonyms)"
                  for o in q.options if o.id not in mine.options]  # fmt: skip
        for side, words, said in (("yes_words", q.yes_words, mine.yes_words),
                                  ("no_words", q.no_words, mine.no_words)):  # fmt: skip
            if words and not said:
                found.append(f"{path}: questions.{q.id}.{side}: missing")
    found += _keyword_problems(config, lang)
    found += [f"{path}: exercises.{e.id}: missing" for e in config.exercises
              if e.id not in model.exercises]  # fmt: skip
    reasons = {*reasons_in(_yaml(config.directory / "triage.yaml")), *BUILT_IN_REASONS}
    found += [f"{path}: reasons: {r!r} missing" for r in sorted(reasons - set(model.reasons))]
    return found


def _keyword_problems(config: Config, lang: str) -> list[str]:
    t = config.translations[lang]
    source = _yaml(config.directory / "keywords.yaml")
    kw = t.model.keywords
    found = [f"{t.path}: keywords.plan.{w}: missing" for w in source.get("plan", [])
             if not kw.plan.get(w)]  # fmt: skip
    if source.get("start_when_opted_out") and not kw.start_when_opted_out:
        found.append(f"{t.path}: keywords.start_when_opted_out: missing")
    found += [f"{t.path}: plan_talk.{k}: missing" for k in source.get("plan_talk", {})
              if not t.model.plan_talk.get(k)]  # fmt: skip  # type: ignore[call-overload]
    return found


def lexicon_source(config_dir: Path) -> Any:
    """What another language's red-flag lexicon must cover: the English concepts and intents
    (ids, what each means and leads to); phrasings are each language's own, never translated."""
    en = _yaml(config_dir / "lexicon" / "en.yaml")
    concepts = [[c.get("id"), c.get("means"), c.get("outcome"), c.get("past_counts", False),
                 c.get("partial", False)] for c in en.get("concepts", [])]  # fmt: skip
    return {"concepts": concepts, "intents": sorted(en.get("intents", {}))}


def lexicon_problems(config: Config, lang: str) -> list[str]:
    path = config.directory / "lexicon" / f"{lang}.yaml"
    english, mine = config.playbook.lexicons.get("en"), config.playbook.lexicons.get(lang)
    if english is None:
        return []
    if mine is None:
        return [
            f"{path}: missing; write the red-flag lexicon for {lang} (README: Adding a language)"
        ]
    found = []
    if _yaml(path).get("translates") != digest(lexicon_source(config.directory)):
        found.append(f"{path}: the English lexicon's concepts changed after this one was checked "
                     f"against them; update it, then `bot translations --stamp {path}`")  # fmt: skip
    have = {c.id: c for c in mine.concepts}
    for c in english.concepts:
        other = have.get(c.id)
        if other is None:
            found.append(f"{path}: concept {c.id}: missing; write its {lang} phrasings")
        elif (other.question, other.value, other.outcome) != (c.question, c.value, c.outcome):
            found.append(f"{path}: concept {c.id}: `means`/`outcome` differ from en.yaml")
    found += [f"{path}: intents.{name}: missing" for name in english.intents
              if name not in mine.intents]  # fmt: skip
    return found


def problems(config: Config, template_dir: Path) -> list[str]:
    found: list[str] = []
    for lang in config.translations:
        found += lang_file_problems(config, lang)
        found += lexicon_problems(config, lang)
        found += template_problems(template_dir, lang)
    return found


def stamp(path: Path, config_dir: Path, template_dir: Path) -> str:
    """Record the current source version in a reviewed translation; returns what was done."""
    path = path.resolve()
    if path.suffix == ".yaml" and path.parent.name == "lexicon":
        text, n = re.subn(r"(?m)^translates:.*$", f'translates: "{digest(lexicon_source(config_dir))}"',
                          path.read_text(encoding="utf-8"), count=1)  # fmt: skip
        if n == 0:
            raise ValueError(f"{path}: no `translates:` line to stamp; add `translates: pending`")
        path.write_text(text, encoding="utf-8")
        return f"{path}: stamped (the English concepts it covers)"
    if path.suffix == ".yaml" and path.parent.name == LANG_DIR:
        sources = section_sources(config_dir)
        text = path.read_text(encoding="utf-8")
        for name, source in sources.items():
            text, n = re.subn(
                rf"(?m)^(  {name}:\s*)\S+", rf'\g<1>"{digest(source)}"', text, count=1
            )
            if n == 0:
                raise ValueError(f"{path}: no `translates.{name}` line to stamp; add it")
        path.write_text(text, encoding="utf-8")
        return f"{path}: stamped {', '.join(sources)}"
    kind, lang = path.parent.parent.name, path.parent.name
    source = template_dir.resolve() / kind / path.name
    if not source.is_file():
        raise ValueError(f"{path}: not a translated template (no {source})")
    body = STAMP.sub("", path.read_text(encoding="utf-8"))
    rel = f"{kind}/{path.name}"
    path.write_text(f"{{# translates {rel} @ {digest(source.read_bytes())} #}}\n{body}", "utf-8")
    return f"{path}: stamped ({lang} of {rel})"
