"""config/lang/<code>.yaml: one readable file per language, validated, turned into its Playbook.

The English content (questionnaire.yaml, keywords.yaml, exercises.yaml, triage.yaml reasons,
templates/sms/*.j2) is the source; a language file gives the same content in its language and
records which version of each source it translates (bot/translations.py checks and re-stamps).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import yaml

from bot.config_schema import Clinic, Exercise, KeywordsModel, LangFile, LangOption, LangQuestion
from bot.core.flow import Flow, Option, Question
from bot.core.language import Languages
from bot.core.model import Playbook
from bot.core.options import fold, phrase_words
from bot.core.plan import PlanSettings
from bot.core.plan_replies import plan_replies
from bot.errors import ConfigError
from bot.language_detect import detector

LANG_DIR = "lang"
COMMANDS = frozenset(["time", "zone"])  # plan words that take an argument ('HORA 6pm')


@dataclass(frozen=True)
class LangContent:
    """One language's content as the renderer and the engine use it."""

    code: str
    path: Path
    model: LangFile
    book: Playbook
    exercises: tuple[Exercise, ...]
    clinic: Clinic


def read_lang_file(path: Path) -> LangFile:
    from bot.config import _validated  # one validation message format for every file

    if not path.is_file():
        raise ConfigError(f"{path}: missing; copy config/lang/es.yaml and translate it")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    result: LangFile = _validated(LangFile, raw, path)
    return result


def _question(q: Question, t: LangQuestion | None, model: LangFile) -> Question:
    """The question in this language; the source's words still count (people mix languages),
    except where one would claim a phrase this language gives to another option."""
    if t is None:  # check-config names what is missing; meanwhile the source's words stand
        return q
    options = _with_source_words(tuple(_option(o, t.options.get(o.id)) for o in q.options), q)
    translated = replace(q, options=options, unsure=t.unsure or q.unsure)
    if q.kind != "yes_no":
        return translated
    yes, no = (*t.yes_words, *model.yes_words), (*t.no_words, *model.no_words)
    mine = {phrase_words(p) for p in (*yes, *no)}
    return replace(translated,
                   yes_words=(*yes, *(p for p in q.yes_words if phrase_words(p) not in mine)),
                   no_words=(*no, *(p for p in q.no_words if phrase_words(p) not in mine)))  # fmt: skip


def _option(o: Option, t: LangOption | None) -> Option:
    return o if t is None else replace(o, label=t.label, synonyms=tuple(t.synonyms))


def _with_source_words(options: tuple[Option, ...], source: Question) -> tuple[Option, ...]:
    owner = {phrase_words(p): o.id for o in options for p in (o.label, *o.synonyms)}
    out = []
    for option, original in zip(options, source.options, strict=True):
        extra = tuple(p for p in (original.label, *original.synonyms)
                      if owner.setdefault(phrase_words(p), option.id) == option.id)  # fmt: skip
        out.append(replace(option, synonyms=(*option.synonyms, *extra)))
    return tuple(out)


def lang_flow(flow: Flow, model: LangFile) -> Flow:
    questions = {qid: _question(q, model.questions.get(qid), model)
                 for qid, q in flow.questions.items()}  # fmt: skip
    return replace(flow, questions=questions)


def aliases(model: LangFile, source: KeywordsModel) -> tuple[dict[str, str], dict[str, str]]:
    """Folded keywords in this language -> the English keyword each is: those that work at any
    time, and those that opt back in (only for someone opted out)."""
    kw = model.keywords
    table: dict[str, str] = {}
    for words, meant in ((kw.stop, source.stop[0]), (kw.help, source.help[0]),
                         (kw.restart, source.restart[0]), (kw.human, source.human[0])):  # fmt: skip
        table.update({_key(w): meant for w in words})
    for meant, words in kw.plan.items():
        table.update({_key(w): meant for w in words})
    rejoin = {_key(w): source.start[0] for w in kw.start}
    if source.start_when_opted_out:
        rejoin.update({_key(w): source.start_when_opted_out[0] for w in kw.start_when_opted_out})
    return table, rejoin


def _key(word: str) -> str:
    return " ".join(fold(word.lower()).split())


def lang_content(code: str, root: Path, book: Playbook, settings: PlanSettings, clinic: Clinic,
                 exercises: tuple[Exercise, ...]) -> LangContent:  # fmt: skip
    path = root / LANG_DIR / f"{code}.yaml"
    model = read_lang_file(path)
    talk: dict[str, frozenset[str]] = {
        kind: frozenset(_key(w) for w in words) for kind, words in model.plan_talk.items()
    }
    time_words = {**settings.time_words, **{_key(w): v for w, v in model.time_words.items()}}
    lang_settings = replace(settings, talk={**settings.talk, **talk}, time_words=time_words)
    lang_book = replace(book, flow=lang_flow(book.flow, model), time_words=time_words,
                        plan_replies=partial(plan_replies, settings=lang_settings), lang=code)  # fmt: skip
    translated = tuple(
        e if (t := model.exercises.get(e.id)) is None
        else e.model_copy(update={"name": t.name, "dose": t.dose, "how": t.how})
        for e in exercises
    )  # fmt: skip
    lang_clinic = clinic.model_copy(update={str(k): v for k, v in model.clinic.items()})
    return LangContent(code, path, model, lang_book, translated, lang_clinic)


def build_languages(clinic: Clinic, book: Playbook, translations: Mapping[str, LangContent],
                    source: KeywordsModel, root: Path) -> Languages:  # fmt: skip
    """Every language's playbook, the words that switch, keyword aliases and the detector."""
    default = clinic.languages.default
    if default not in clinic.languages.offered:
        raise ConfigError(f"{root / 'clinic.yaml'}: key `languages.default`: {default!r} is not "
                          "under `languages.offered`")  # fmt: skip
    switch: dict[str, str] = {}
    for code, meta in clinic.languages.offered.items():
        switch.update({fold(w.lower()): code for w in meta.switch_words})
    table: dict[str, str] = {}
    rejoin: dict[str, str] = {}
    for t in translations.values():
        always, opted_out = aliases(t.model, source)
        table.update(always)
        rejoin.update(opted_out)
    books = {default: book, **{code: t.book for code, t in translations.items()}}
    hints = {code: tuple(m.hint_words) for code, m in clinic.languages.offered.items()}
    return Languages(default, books, switch, detector(hints), aliases=table, commands=COMMANDS,
                     rejoin=rejoin)  # fmt: skip
