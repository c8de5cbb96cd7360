"""The shape of config/*.yaml as pydantic models: types, ranges, phone numbers, time zones."""

from __future__ import annotations

import re
from datetime import time
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

ALERT_LEVELS = ("emergency", "urgent", "priority_call", "callback", "lead")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Model(BaseModel):
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


def hhmm(value: str) -> time:
    if not re.fullmatch(r"\d{2}:\d{2}", value):
        raise ValueError(f"{value!r} is not a time like 08:00")
    return time.fromisoformat(value)


class QuietHours(Model):
    start: StrictStr = "08:00"
    end: StrictStr = "21:00"

    @field_validator("start", "end")
    @classmethod
    def _valid(cls, v: str) -> str:
        hhmm(v)
        return v


class Escalation(Model):
    resend_after_minutes: int = Field(10, ge=1)
    backup_after_minutes: int = Field(20, ge=1)


class WebAlertCaps(Model):
    """Alerts from web chats without a callback number: how many page staff each hour; the
    rest are folded into one digest SMS at the end of the hour."""

    per_ip_per_hour: int = Field(2, ge=0)
    per_hour: int = Field(6, ge=0)


class LanguageMeta(Model):
    name: StrictStr  # in its own language: "Español"
    switch_words: list[StrictStr] = Field(min_length=1)  # one-word messages that choose it
    staff_note: StrictStr = ""  # what staff alerts say about someone who uses it
    hint_words: list[StrictStr] = []  # one-word first messages that tell the language ("hola")


class Languages(Model):
    default: StrictStr = "en"
    offered: dict[StrictStr, LanguageMeta] = {
        "en": LanguageMeta(name="English", switch_words=["en", "english"])
    }


class Clinic(Model):
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
    web_alert_caps: WebAlertCaps = WebAlertCaps()
    conversation_expiry_hours: int = Field(24, ge=1)
    retention_days: int = Field(365, ge=1)
    send_rate_per_second: float = Field(1.0, gt=0)
    message_frequency: StrictStr = "up to 1 msg/day"
    languages: Languages = Languages()
    # gsm7: letters outside GSM-7 folded (á -> a) like Twilio Smart Encoding, 160 characters a
    # segment; unicode: accents kept, and a message with one goes as UCS-2 (70 a segment).
    sms_encoding: Literal["gsm7", "unicode"] = "gsm7"

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
        return hhmm(self.quiet_hours.start)

    @property
    def quiet_end(self) -> time:
        return hhmm(self.quiet_hours.end)


class OptionModel(Model):
    id: StrictStr = Field(pattern=r"^[a-z][a-z0-9_]*$")
    number: int = Field(ge=0, le=99)
    label: StrictStr = Field(min_length=1)
    red_flag: bool = False
    synonyms: list[StrictStr] = []
    days: tuple[float, float | None] | None = None


class QuestionModel(Model):
    id: StrictStr
    kind: Literal["yes_no", "integer", "single", "multi", "ktw"]
    prompt: StrictStr
    options: list[OptionModel] = []
    min: int = 0
    max: int = 0
    next: StrictStr | list[dict[str, Any]] | None = None
    stop_if: bool | None = None
    stop_template: StrictStr | None = None
    unit: Literal["years", "score"] | None = None
    yes_words: list[StrictStr] = []
    no_words: list[StrictStr] = []
    unsure: StrictStr = ""  # what to tell someone who is not sure: point to the safe answer


class QuestionnaireModel(Model):
    start: StrictStr
    questions: list[QuestionModel] = Field(min_length=1)


class OutcomeModel(Model):
    alert: Literal["emergency", "urgent", "priority_call", "callback", "lead"] | None = None


class RuleModel(Model):
    id: StrictStr
    outcome: Literal["emergency", "urgent", "priority_call", "book_call", "exercises"]
    when: dict[str, Any]


class TriageModel(Model):
    outcomes: dict[StrictStr, OutcomeModel]
    rules: list[RuleModel] = Field(min_length=1)


class Exercise(Model):
    id: StrictStr
    name: StrictStr
    dose: StrictStr
    how: StrictStr
    video_url: StrictStr = ""


class FollowUp(Model):
    """When the plan asks staff to follow up (CLINICAL.md, Reminder plan)."""

    pain_alert_at: int = Field(7, ge=0, le=10)
    pain_rise_alert: int = Field(2, ge=1, le=10)
    stalled_skips: int = Field(3, ge=1)
    stalled_silent_days: int = Field(5, ge=1)
    late_checkin_days: int = Field(2, ge=0, le=6)
    psfs_real_change: int = Field(3, ge=1, le=10)
    psfs_mcid: int = Field(2, ge=1, le=10)


class ReminderPlan(Model):
    days: int = Field(21, ge=1, le=120)
    weekdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(min_length=1)
    check_in_weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "sun"
    default_time_words: dict[StrictStr, StrictStr] = {}
    follow_up: FollowUp = FollowUp()


class ExercisesModel(Model):
    reminder_plan: ReminderPlan
    exercises: list[Exercise] = Field(min_length=1)


TalkKind = Literal["care", "done", "program", "question", "sore", "better", "thanks"]


class KeywordsModel(Model):
    stop: list[StrictStr]
    start: list[StrictStr]
    start_when_opted_out: list[StrictStr] = []
    help: list[StrictStr]
    restart: list[StrictStr]
    human: list[StrictStr]
    plan: list[StrictStr] = []
    plan_talk: dict[TalkKind, list[StrictStr]] = {}


# --- config/lang/<code>.yaml: one language's content (bot/lang_config.py) ---


class LangOption(Model):
    label: StrictStr = Field(min_length=1)
    synonyms: list[StrictStr] = []


class LangQuestion(Model):
    unsure: StrictStr = ""  # what to tell someone not sure (questionnaire.yaml `unsure`)
    options: dict[StrictStr, LangOption] = {}
    yes_words: list[StrictStr] = []
    no_words: list[StrictStr] = []


class LangExercise(Model):
    name: StrictStr
    dose: StrictStr
    how: StrictStr


class LangKeywords(Model):
    stop: list[StrictStr] = Field(min_length=1)
    start: list[StrictStr] = Field(min_length=1)
    start_when_opted_out: list[StrictStr] = []
    help: list[StrictStr] = Field(min_length=1)
    restart: list[StrictStr] = Field(min_length=1)
    human: list[StrictStr] = Field(min_length=1)
    plan: dict[StrictStr, list[StrictStr]] = {}


class LangFile(Model):
    translates: dict[StrictStr, StrictStr] = {}
    clinic: dict[Literal["message_frequency"], StrictStr] = {}
    yes_words: list[StrictStr] = []
    no_words: list[StrictStr] = []
    questions: dict[StrictStr, LangQuestion]
    keywords: LangKeywords
    plan_talk: dict[TalkKind, list[StrictStr]] = {}
    time_words: dict[StrictStr, StrictStr] = {}
    exercises: dict[StrictStr, LangExercise] = {}
    reasons: dict[StrictStr, StrictStr] = {}
    terms: dict[StrictStr, StrictStr] = {}  # words the core says in English ('Sunday', 'Mon-Sat')


class MeansModel(Model):
    question: StrictStr
    option: StrictStr | None = None  # for single and multi questions
    value: bool | None = None  # for yes/no questions


PatternModel = StrictStr | list[dict[str, Any]]


class ConceptModel(Model):
    id: StrictStr = Field(pattern=r"^[a-z][a-z0-9_]*$")
    means: MeansModel | None = None
    outcome: Literal["emergency", "urgent", "priority_call"] | None = None
    phrases: list[StrictStr] = []
    patterns: list[PatternModel] = []
    past_counts: bool = False
    partial: bool = False


class DirectionsModel(Model):
    forward: list[StrictStr] = []
    backward: list[StrictStr] = []
    both: list[StrictStr] = []


class ContextModel(Model):
    negated: DirectionsModel = DirectionsModel()
    historical: DirectionsModel = DirectionsModel()
    hypothetical: DirectionsModel = DirectionsModel()
    other_person: DirectionsModel = DirectionsModel()
    partial: DirectionsModel = DirectionsModel()
    pseudo: DirectionsModel = DirectionsModel()
    affirm: DirectionsModel = DirectionsModel()
    terminate: list[StrictStr] = []


class IntentModel(Model):
    phrases: list[StrictStr] = Field(min_length=1)
    patterns: list[PatternModel] = []


class LexiconModel(Model):
    lang: StrictStr = Field(pattern=r"^[a-z]{2}$")
    translates: StrictStr = ""  # another language's lexicon: the English concepts it covers
    words: dict[StrictStr, list[StrictStr]] = {}
    intent_words: dict[StrictStr, list[StrictStr]] = {}
    answer_words: list[StrictStr] = []
    contrast: list[StrictStr] = []
    notable: list[StrictStr] = []
    protected: list[StrictStr] = []
    context: ContextModel = ContextModel()
    concepts: list[ConceptModel] = Field(min_length=1)
    intents: dict[Literal["callback", "opt_out", "opt_out_maybe"], IntentModel]
