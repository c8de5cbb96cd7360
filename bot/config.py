"""Load and validate config/*.yaml (pydantic) into the core's frozen values; fail at start."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, field_validator

from bot.core.conditions import Condition, parse_condition
from bot.core.flow import END, KINDS, Branch, Flow, Question
from bot.core.model import Keywords, Playbook
from bot.core.plan import PlanSettings, hold_for_red_flag
from bot.core.plan_replies import plan_replies
from bot.core.triage import OUTCOMES, Rule, Rules
from bot.errors import ConfigError

FILES = ("clinic.yaml", "questionnaire.yaml", "triage.yaml", "exercises.yaml", "keywords.yaml")
ALERT_LEVELS = ("emergency", "urgent", "priority_call", "callback", "lead")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def e164(value: str) -> str:
    """A valid E.164 number, or ValueError saying how to write one."""
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as err:
        raise ValueError(
            f"{value!r} is not a phone number in E.164 form like +19495550101"
        ) from err
    if not phonenumbers.is_possible_number(parsed):
        raise ValueError(f"{value!r} is not a possible phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _hhmm(value: str) -> time:
    if not re.fullmatch(r"\d{2}:\d{2}", value):
        raise ValueError(f"{value!r} is not a time like 08:00")
    return time.fromisoformat(value)


class QuietHours(_Model):
    start: StrictStr = "08:00"
    end: StrictStr = "21:00"

    @field_validator("start", "end")
    @classmethod
    def _valid(cls, v: str) -> str:
        _hhmm(v)
        return v


class Escalation(_Model):
    resend_after_minutes: int = Field(10, ge=1)
    backup_after_minutes: int = Field(20, ge=1)


class Clinic(_Model):
    name: StrictStr
    short_name: StrictStr
    city: StrictStr = ""
    phone: StrictStr
    phone_display: StrictStr
    booking_url: StrictStr
    time_zone: StrictStr
    quiet_hours: QuietHours = QuietHours()
    on_call: list[StrictStr] = Field(min_length=1)
    backup_number: StrictStr | None = None
    escalation: Escalation = Escalation()
    conversation_expiry_hours: int = Field(24, ge=1)
    retention_days: int = Field(365, ge=1)
    send_rate_per_second: float = Field(1.0, gt=0)
    message_frequency: StrictStr = "up to 1 msg/day"

    @field_validator("phone", "backup_number")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        return None if v is None else e164(v)

    @field_validator("on_call")
    @classmethod
    def _numbers(cls, v: list[str]) -> list[str]:
        return [e164(n) for n in v]

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"{v!r} is not an IANA time zone like America/Los_Angeles") from err
        return v

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def quiet_start(self) -> time:
        return _hhmm(self.quiet_hours.start)

    @property
    def quiet_end(self) -> time:
        return _hhmm(self.quiet_hours.end)


class QuestionModel(_Model):
    id: StrictStr
    kind: Literal["yes_no", "integer", "single", "multi", "ktw"]
    prompt: StrictStr
    options: list[int] = []
    min: int = 0
    max: int = 0
    red_flag_options: list[int] = []
    next: StrictStr | list[dict[str, Any]] | None = None
    stop_if: bool | None = None
    stop_template: StrictStr | None = None


class QuestionnaireModel(_Model):
    start: StrictStr
    questions: list[QuestionModel] = Field(min_length=1)


class OutcomeModel(_Model):
    alert: Literal["emergency", "urgent", "priority_call", "callback", "lead"] | None = None


class RuleModel(_Model):
    id: StrictStr
    outcome: Literal["emergency", "urgent", "priority_call", "book_call", "exercises"]
    when: dict[str, Any]


class TriageModel(_Model):
    outcomes: dict[StrictStr, OutcomeModel]
    rules: list[RuleModel] = Field(min_length=1)


class Exercise(_Model):
    id: StrictStr
    name: StrictStr
    dose: StrictStr
    how: StrictStr
    video_url: StrictStr = ""


class ReminderPlan(_Model):
    days: int = Field(21, ge=1, le=120)
    weekdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(min_length=1)
    check_in_weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "sun"
    default_time_words: dict[StrictStr, StrictStr] = {}


class ExercisesModel(_Model):
    reminder_plan: ReminderPlan
    exercises: list[Exercise] = Field(min_length=1)


class KeywordsModel(_Model):
    stop: list[StrictStr]
    start: list[StrictStr]
    start_when_opted_out: list[StrictStr] = []
    help: list[StrictStr]
    restart: list[StrictStr]
    human: list[StrictStr]
    plan: list[StrictStr] = []
    emergency_phrases: list[StrictStr] = []


@dataclass(frozen=True)
class Config:
    """Validated content: the clinic, the playbook for the engine, the program."""

    directory: Path
    clinic: Clinic
    playbook: Playbook
    exercises: tuple[Exercise, ...]
    plan: PlanSettings


def _read(directory: Path, name: str) -> Any:
    path = directory / name
    if not path.is_file():
        raise ConfigError(f"{path}: missing; copy it from the project's config/ folder")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err


def _validated(model: type[_Model], data: Any, path: Path) -> Any:
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
        if bad := set(q.red_flag_options) - set(q.options):
            raise ConfigError(f"{where}: red_flag_options {sorted(bad)} are not in options")
        following = ids[i + 1] if i + 1 < len(ids) else END
        try:
            nxt = _branches(q, following, where)
        except ValueError as err:
            raise ConfigError(str(err)) from err
        questions[q.id] = Question(
            id=q.id, kind=q.kind, prompt=q.prompt, options=tuple(q.options), lo=q.min,
            hi=q.max or (30 if q.kind == "ktw" else 0), red_flag_options=tuple(q.red_flag_options),
            next=nxt, stop_if=q.stop_if, stop_template=q.stop_template,
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
            if atom.question not in flow.questions:
                raise ConfigError(f"{where}: unknown question id {atom.question!r}")
        rules.append(Rule(r.id, r.outcome, when))
    if missing := set(OUTCOMES) - set(model.outcomes):
        raise ConfigError(f"{path}: key `outcomes`: add {sorted(missing)}")
    return Rules(tuple(rules))


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
            if atom.question not in flow.questions:
                raise ConfigError(f"{root / 'questionnaire.yaml'}: unknown id {atom.question!r}")
    rules = _rules(tmodel, flow, root / "triage.yaml")
    keywords = Keywords(
        stop=frozenset(w.lower() for w in kmodel.stop),
        start=frozenset(w.lower() for w in kmodel.start),
        start_when_opted_out=frozenset(w.lower() for w in kmodel.start_when_opted_out),
        help=frozenset(w.lower() for w in kmodel.help),
        restart=frozenset(w.lower() for w in kmodel.restart),
        human=frozenset(w.lower() for w in kmodel.human),
        plan=frozenset(w.lower() for w in kmodel.plan),
        emergency_phrases=tuple(p.lower().replace("'", "") for p in kmodel.emergency_phrases),
    )
    plan_settings = _plan_settings(clinic, emodel.reminder_plan, root / "exercises.yaml")
    playbook = Playbook(
        flow=flow,
        rules=rules,
        keywords=keywords,
        outcome_alerts={k: v.alert for k, v in tmodel.outcomes.items()},
        expiry=timedelta(hours=clinic.conversation_expiry_hours),
        plan_replies=partial(plan_replies, settings=plan_settings),
        hold_plan=hold_for_red_flag,
        default_region=phonenumbers.region_code_for_number(phonenumbers.parse(clinic.phone))
        or "US",
    )
    return Config(root, clinic, playbook, tuple(emodel.exercises), plan_settings)


def _plan_settings(clinic: Clinic, plan: ReminderPlan, path: Path) -> PlanSettings:
    start, end = clinic.quiet_start, clinic.quiet_end
    if start >= end:
        raise ConfigError(
            f"{path.parent / 'clinic.yaml'}: key `quiet_hours`: start must be before end"
        )
    for word, value in plan.default_time_words.items():
        try:
            at = _hhmm(value)
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
    )  # fmt: skip
