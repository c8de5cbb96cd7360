"""Load and validate config/*.yaml (pydantic) into the core's frozen values; fail at start."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import phonenumbers
import yaml
from pydantic import ValidationError

from bot.config_schema import (
    Clinic,
    Exercise,
    ExercisesModel,
    KeywordsModel,
    Model,
    OptionModel,
    QuestionModel,
    QuestionnaireModel,
    ReminderPlan,
    TriageModel,
    hhmm,
)
from bot.core.conditions import Atom, Condition, parse_condition
from bot.core.flow import END, KINDS, Branch, Flow, Option, Question
from bot.core.language import Languages
from bot.core.model import Keywords, Playbook
from bot.core.options import phrase_words
from bot.core.plan import PlanSettings, checkin_flag_options, hold_for_red_flag
from bot.core.plan_replies import plan_replies
from bot.core.triage import OUTCOMES, Rule, Rules
from bot.core.typos import typo_table
from bot.errors import ConfigError
from bot.lang_config import LangContent, build_languages, lang_content
from bot.language_detect import preload
from bot.lexicon_config import load_lexicons
from bot.nlp import MedspacyReader
from bot.whatsapp_config import WhatsAppSetup, load_whatsapp

FILES = ("clinic.yaml", "questionnaire.yaml", "triage.yaml", "exercises.yaml", "keywords.yaml")


@dataclass(frozen=True)
class Config:
    """Validated content: the clinic, the playbook for the engine, the program."""

    directory: Path
    clinic: Clinic
    playbook: Playbook
    exercises: tuple[Exercise, ...]
    plan: PlanSettings
    languages: Languages  # a playbook per language, switch words, keyword aliases
    whatsapp: WhatsAppSetup = field(default_factory=WhatsAppSetup)
    translations: Mapping[str, LangContent] = field(default_factory=dict)  # not the default

    def warm(self) -> None:
        """Load the NLP pipelines and the language detector now: for processes that read
        messages (web, chat), so the first message does not wait; others never load them."""
        for book in self.languages.books.values():
            if isinstance(book.reader, MedspacyReader):
                book.reader.warm()
        preload({code: tuple(m.hint_words) for code, m in self.clinic.languages.offered.items()})

    def exercises_in(self, lang: str | None) -> tuple[Exercise, ...]:
        t = self.translations.get(lang or "")
        return t.exercises if t else self.exercises

    def clinic_in(self, lang: str | None) -> Clinic:
        t = self.translations.get(lang or "")
        return t.clinic if t else self.clinic


def _read(directory: Path, name: str) -> Any:
    path = directory / name
    if not path.is_file():
        raise ConfigError(f"{path}: missing; copy it from the project's config/ folder")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err


def _validated(model: type[Model], data: Any, path: Path) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        lines = []
        for e in err.errors():
            key = ".".join(str(p) for p in e["loc"]) or "(top level)"
            hint = (
                " (YAML reads yes/no/on/off as booleans: put words in quotes)"
                if ("string" in e["msg"] and isinstance(e.get("input"), bool))
                else ""
            )
            lines.append(f"{path}: key `{key}`: {e['msg']}{hint}")
        raise ConfigError("\n".join(lines)) from err


def _branches(q: QuestionModel, following: str, where: str) -> tuple[Branch, ...]:
    if q.next is None:
        return (Branch(following),)
    if isinstance(q.next, str):
        return (Branch(q.next),)
    out = []
    for i, raw in enumerate(q.next):
        if "goto" not in raw:
            raise ConfigError(f"{where}.next[{i}]: needs `goto` (a question id or `end`)")
        when = parse_condition(raw["when"], f"{where}.next[{i}].when") if "when" in raw else None
        out.append(Branch(str(raw["goto"]), when))
    return tuple(out)


def _check_options(q: QuestionModel, where: str) -> None:
    ids = [o.id for o in q.options]
    numbers = [o.number for o in q.options]
    if len(set(ids)) != len(ids) or len(set(numbers)) != len(numbers):
        raise ConfigError(f"{where}: option ids and numbers must each be unique")
    if q.options and q.kind not in ("single", "multi"):
        raise ConfigError(f"{where}: only single and multi questions have `options`")
    if any(o.red_flag and o.number == 0 for o in q.options):
        raise ConfigError(f"{where}: option 0 means none and cannot be a red flag")
    _check_words(q, where)
    _check_days(q, where)


def _check_words(q: QuestionModel, where: str) -> None:
    """A label or synonym read as two options of one question would make words ambiguous."""
    if (q.yes_words or q.no_words) and q.kind != "yes_no":
        raise ConfigError(f"{where}: only yes_no questions have `yes_words` and `no_words`")
    owner: dict[tuple[str, ...], str] = {}
    sides = [("yes", p) for p in q.yes_words] + [("no", p) for p in q.no_words]
    for oid, phrase in [(o.id, p) for o in q.options for p in (o.label, *o.synonyms)] + sides:
        said = phrase_words(phrase)
        if not said:
            raise ConfigError(f"{where}: {oid}: {phrase!r} has no words to match")
        if owner.setdefault(said, oid) != oid:
            raise ConfigError(
                f"{where}: {phrase!r} is claimed by both {owner[said]} and {oid}; "
                "keep each label and synonym under one option"
            )


def _check_days(q: QuestionModel, where: str) -> None:
    """Duration options: every option but none has `days: [from, to]`, the ranges don't overlap."""
    spans = sorted((o.days[0], o.days[1] if o.days[1] is not None else math.inf, o.id)
                   for o in q.options if o.days is not None)  # fmt: skip
    if not spans:
        return
    if len(spans) != len([o for o in q.options if o.number != 0]):
        raise ConfigError(f"{where}: give `days: [from, to]` to every option or to none")
    for (lo, hi, oid), nxt in zip(spans, [*spans[1:], None], strict=True):
        if hi <= lo or (nxt is not None and nxt[0] < hi):
            raise ConfigError(f"{where}: option {oid}: `days` must run upward without overlap")


def _option(o: OptionModel) -> Option:
    days = None if o.days is None else (o.days[0], o.days[1] if o.days[1] is not None else math.inf)
    return Option(o.id, o.number, o.label, o.red_flag, tuple(o.synonyms), days)


def _flow(model: QuestionnaireModel, path: Path) -> Flow:
    questions: dict[str, Question] = {}
    ids = [q.id for q in model.questions]
    for i, q in enumerate(model.questions):
        where = f"{path}: questions[{i}] ({q.id})"
        if q.id in questions:
            raise ConfigError(f"{where}: duplicate id; every question id must be unique")
        if q.kind in ("single", "multi") and not q.options:
            raise ConfigError(f"{where}: kind {q.kind} needs `options`")
        if q.kind == "integer" and q.min > q.max:
            raise ConfigError(f"{where}: `min` {q.min} is above `max` {q.max}")
        _check_options(q, where)
        following = ids[i + 1] if i + 1 < len(ids) else END
        try:
            nxt = _branches(q, following, where)
        except ValueError as err:
            raise ConfigError(str(err)) from err
        questions[q.id] = Question(
            id=q.id, kind=q.kind, prompt=q.prompt, lo=q.min, hi=q.max or (30 if q.kind == "ktw" else 0),
            options=tuple(_option(o) for o in q.options), next=nxt, stop_if=q.stop_if, stop_template=q.stop_template,
            unit=q.unit, yes_words=tuple(q.yes_words), no_words=tuple(q.no_words), unsure=q.unsure,
        )  # fmt: skip
    assert all(q.kind in KINDS for q in questions.values())
    flow = Flow(model.start, questions)
    if problems := flow.problems():
        raise ConfigError("\n".join(f"{path}: {p}" for p in problems))
    return flow


def _rules(model: TriageModel, flow: Flow, path: Path) -> Rules:
    rules = []
    for i, r in enumerate(model.rules):
        where = f"{path}: rules[{i}] ({r.id})"
        try:
            when = parse_condition(r.when, f"{where}.when")
        except ValueError as err:
            raise ConfigError(str(err)) from err
        for atom in when.atoms():
            _check_atom(atom, flow, where)
        rules.append(Rule(r.id, r.outcome, when))
    if missing := set(OUTCOMES) - set(model.outcomes):
        raise ConfigError(f"{path}: key `outcomes`: add {sorted(missing)}")
    return Rules(tuple(rules))


def _check_atom(atom: Atom, flow: Flow, where: str) -> None:
    """A condition names a real question and, for menus, real option ids (a typo never matches)."""
    q = flow.questions.get(atom.question)
    if q is None:
        raise ConfigError(f"{where}: unknown question id {atom.question!r}")
    if q.kind not in ("single", "multi") or atom.op not in ("eq", "ne", "in", "has_any"):
        return
    named = atom.value if isinstance(atom.value, list) else [atom.value]
    if unknown := [v for v in named if v not in q.option_ids()]:
        raise ConfigError(
            f"{where}: {atom.question} has no option {', '.join(map(repr, unknown))}; "
            f"use one of the option ids in questionnaire.yaml: {', '.join(q.option_ids())}"
        )


def _conditions_in(flow: Flow) -> list[Condition]:
    return [b.when for q in flow.questions.values() for b in q.next if b.when is not None]


def load_config(directory: str | Path = "config") -> Config:
    """Read every file, validate, cross-check; ConfigError lists what is wrong and where."""
    root = Path(directory)
    if not root.is_dir():
        raise ConfigError(f"{root}: no such config folder; set BOT_CONFIG_DIR or --config-dir")
    raw = {name: _read(root, name) for name in FILES}
    clinic = _validated(Clinic, raw["clinic.yaml"], root / "clinic.yaml")
    qmodel = _validated(QuestionnaireModel, raw["questionnaire.yaml"], root / "questionnaire.yaml")
    tmodel = _validated(TriageModel, raw["triage.yaml"], root / "triage.yaml")
    emodel = _validated(ExercisesModel, raw["exercises.yaml"], root / "exercises.yaml")
    kmodel = _validated(KeywordsModel, raw["keywords.yaml"], root / "keywords.yaml")
    flow = _flow(qmodel, root / "questionnaire.yaml")
    for cond in _conditions_in(flow):
        for atom in cond.atoms():
            _check_atom(atom, flow, str(root / "questionnaire.yaml"))
    rules = _rules(tmodel, flow, root / "triage.yaml")
    keywords = Keywords(
        stop=frozenset(w.lower() for w in kmodel.stop),
        start=frozenset(w.lower() for w in kmodel.start),
        start_when_opted_out=frozenset(w.lower() for w in kmodel.start_when_opted_out),
        help=frozenset(w.lower() for w in kmodel.help),
        restart=frozenset(w.lower() for w in kmodel.restart),
        human=frozenset(w.lower() for w in kmodel.human),
        plan=frozenset(w.lower() for w in kmodel.plan),
    )
    typo_table(keywords.all)  # built now, not on someone's first message
    lexicons = load_lexicons(root, flow)
    plan_settings = _plan_settings(clinic, emodel.reminder_plan, root / "exercises.yaml")
    plan_settings = replace(
        plan_settings, talk=_talk(kmodel), flag_options=checkin_flag_options(flow)
    )
    playbook = Playbook(
        flow=flow,
        rules=rules,
        keywords=keywords,
        outcome_alerts={k: v.alert for k, v in tmodel.outcomes.items()},
        expiry=timedelta(hours=clinic.conversation_expiry_hours),
        plan_replies=partial(plan_replies, settings=plan_settings),
        time_words=plan_settings.time_words,
        reminder_hours=(plan_settings.quiet_start, plan_settings.quiet_end),
        hold_plan=hold_for_red_flag,
        lexicons=lexicons,
        reader=MedspacyReader(lexicons),
        default_region=phonenumbers.region_code_for_number(phonenumbers.parse(clinic.phone))
        or "US",
    )
    # A WhatsApp quick-reply button sends back its id: it must be a word the bot understands.
    k = keywords
    whatsapp = load_whatsapp(root, k.stop | k.start | k.help | k.restart | k.human | k.plan)
    exercises = tuple(emodel.exercises)
    translations = {
        code: lang_content(code, root, playbook, plan_settings, clinic, exercises)
        for code in clinic.languages.offered if code != clinic.languages.default
    }  # fmt: skip
    languages = build_languages(clinic, playbook, translations, kmodel, root)
    return Config(root, clinic, playbook, exercises, plan_settings, languages, whatsapp,
                  translations)  # fmt: skip


def _talk(model: KeywordsModel) -> dict[str, frozenset[str]]:
    """keywords.yaml plan_talk: the words that tell what free text from a plan patient is."""
    return {kind: frozenset(w.lower() for w in words) for kind, words in model.plan_talk.items()}


def _plan_settings(clinic: Clinic, plan: ReminderPlan, path: Path) -> PlanSettings:
    start, end = clinic.quiet_start, clinic.quiet_end
    if start >= end:
        raise ConfigError(
            f"{path.parent / 'clinic.yaml'}: key `quiet_hours`: start must be before end"
        )
    for word, value in plan.default_time_words.items():
        try:
            at = hhmm(value)
        except ValueError as err:
            raise ConfigError(
                f"{path}: key `reminder_plan.default_time_words.{word}`: {err}"
            ) from err
        if not start <= at <= end:
            raise ConfigError(f"{path}: key `reminder_plan.default_time_words.{word}`: {value} is "
                              f"outside quiet hours {clinic.quiet_hours.start}-{clinic.quiet_hours.end}")  # fmt: skip
    return PlanSettings(
        clinic_zone=clinic.time_zone, quiet_start=start, quiet_end=end, days=plan.days,
        weekdays=tuple(plan.weekdays), check_in_weekday=plan.check_in_weekday,
        time_words=dict(plan.default_time_words),
        questionnaire_expiry=timedelta(hours=clinic.conversation_expiry_hours),
        **plan.follow_up.model_dump(),
    )  # fmt: skip
