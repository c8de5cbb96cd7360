"""`bot check-config`: validate config and templates, walk every questionnaire path."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot import alerts, service, web
from bot.checks_lang import check_languages
from bot.config import Config, load_config
from bot.core.engine import TEMPLATES
from bot.core.language import TEMPLATES as LANGUAGE_TEMPLATES
from bot.core.plan import TEMPLATES as PLAN_TEMPLATES
from bot.core.understanding import understand
from bot.core.walk import walk
from bot.errors import ConfigError
from bot.lexicon_config import outcome_problems
from bot.render import Renderer, segments
from bot.settings import Settings
from bot.whatsapp_config import check_lines

MAX_SEGMENTS = 3
# The home program goes as one message so that it arrives in order (Twilio does not keep the order
# of several messages): it may use up to Twilio's 1,600 characters (10 segments).
LONG_MESSAGES = {"outcome_exercises": 10, "plan_program": 10}
SAMPLE_ALERT = {"ref": "K7Q2M", "level": "urgent", "rule": "urgent_same_day", "phone": "+19495550123",
                "channel": "sms", "stage": "initial", "claimed_by": "+19495550101",
                "lang": "es"}  # fmt: skip


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    ok: bool = True

    def fail(self, line: str) -> None:
        self.ok = False
        self.lines.append(f"ERROR {line}")

    def warn(self, line: str) -> None:
        self.lines.append(f"warning {line}")


# Values for every variable a template may use; StrictUndefined still catches any other name.
SAMPLE_CONTEXT: dict[str, Any] = {
    "alert": SAMPLE_ALERT, "ref": "K7Q2M", "by": "+19495550101", "alerts": [SAMPLE_ALERT] * 2,
    "number": "+19495550123", "outcome": "book_call", "question": "age", "rule": "r",
    "reasons": ["a reason"], "time": "7:00 am", "zone": "America/Los_Angeles",
    "zone_label": "Pacific time", "reason": "not_a_time", "awaiting": "checkin_pain",
    "earliest": "8:00 am", "latest": "9:00 pm", "days_text": "Mon-Sat", "days": 21, "day": 3,
    "pain_first": 6, "pain_last": 3, "outside_hours": False, "moved": True, "ktw_change": 1.5,
    "done_count": 15, "done": True, "check_in_day": "Sunday", "why": "not_improving",
    "want_time": True, "status": "done", "starts": "tomorrow", "planned": 18,
    "better": False, "already": False, "held": True, "ended": False,
    "pain": 8, "intake": 3, "ease_off": True, "activity": "running 5 miles", "paused": False,
    "again": False, "score": 4, "psfs_first": 3, "psfs_last": 7, "psfs_change": 4,
    "psfs_words": "a real improvement", "early": False, "reminder_time": "18:00",
    "reminder_time_text": "6:00 pm", "rest_day": False,
    "psfs_verdict": "a real improvement", "summary_activity": "running 5 miles",
    "answer": "one calf swollen, warm or red", "disagree": True, "unexplained": True,
    "more": 3, "count": 4, "levels": "3 emergency, 1 urgent", "restored": True,
}  # fmt: skip


def _samples(config: Config, longest: dict[str, tuple[str, ...]]) -> dict[str, dict[str, Any]]:
    """A context per template, with the longest reasons the walk found for each outcome."""
    samples: dict[str, dict[str, Any]] = {
        f"outcome_{level}": {"reasons": list(reasons)} for level, reasons in longest.items()
    }
    for q in config.playbook.flow.questions.values():
        samples[q.prompt] = {"question": q.id, "options": q.menu()}
    return samples


REPROMPT_REASONS = ("out_of_range", "not_a_number", "ambiguous", "range", "scale", "unit",
                    "unsure", "one_only", "none_and_some", "which", "duration", "not_ktw",
                    "one_side", "empty", "mixed")  # fmt: skip


def _reprompt_samples(config: Config) -> list[dict[str, Any]]:
    """The re-prompt for every reason at every question of the config."""
    return [
        q.reprompt_context(r, {"left": 9.0} if r == "one_side" else None)
        for q in config.playbook.flow.questions.values() for r in REPROMPT_REASONS
    ]  # fmt: skip


def _check_templates(config: Config, renderer: Renderer, longest: dict[str, tuple[str, ...]],
                     report: Report) -> None:  # fmt: skip
    # Every module that sends a message names its templates; the question prompts come from config.
    needed = {*TEMPLATES, *PLAN_TEMPLATES, *alerts.TEMPLATES, *service.TEMPLATES, *web.TEMPLATES,
              *LANGUAGE_TEMPLATES}  # fmt: skip
    needed |= {q.prompt for q in config.playbook.flow.questions.values()}
    needed |= {f"outcome_{o}" for o in config.playbook.outcome_alerts}
    needed |= {q.stop_template for q in config.playbook.flow.questions.values() if q.stop_template}
    for name in sorted(needed - set(renderer.names())):
        report.fail(f"{renderer.root / 'sms' / (name + '.j2')}: missing template")
    samples = _samples(config, longest)
    for name in renderer.names("web"):
        try:
            renderer.reply_named(name, SAMPLE_CONTEXT, "web")
        except ConfigError as err:
            report.fail(f"(web chat) {err}")
    for name in renderer.names():
        kinds = _reprompt_samples(config) if name == "reprompt" else [
                     {**SAMPLE_CONTEXT, **samples.get(name, {})}]  # fmt: skip
        for context in kinds:
            try:
                messages = renderer.reply_named(name, context)
            except ConfigError as err:
                if name in needed:
                    report.fail(f"{err}")
                else:
                    report.lines.append(
                        f"note {name}.j2 needs context the check can't guess: {err}"
                    )
                break
            limit = LONG_MESSAGES.get(name, MAX_SEGMENTS)
            for text in messages:
                if (n := segments(text)) > limit:
                    report.warn(f"{name}.j2 renders {n} SMS segments (over {limit}): shorten it")


def _check_lexicon(config: Config, report: Report) -> None:
    """Every phrasing of every concept is read as that concept, affirmed, at any question."""
    book = config.playbook
    missed = 0
    for lang, lexicon in book.lexicons.items():
        for problem in outcome_problems(lexicon, book.flow, book.rules):
            report.fail(problem)
        for concept in lexicon.concepts:
            for phrase in concept.phrases:
                reading = understand(phrase, None, lexicon, book.reader, lang=lang)
                if not any(c.id == concept.id for c in reading.concepts):
                    missed += 1
                    report.fail(f"lexicon/{lang}.yaml: concept {concept.id}: the phrase "
                                f"{phrase!r} is not read as {concept.id}: fix its patterns")  # fmt: skip
        flags = sum(c.red_flag for c in lexicon.concepts)
        if not missed:
            report.lines.append(f"ok   lexicon {lang}: {flags} red-flag concepts cover every "
                                "red-flag option; each phrase is read as its concept")  # fmt: skip
    for q in book.flow.questions.values():
        if q.kind == "yes_no" and q.stop_if is None and not q.unsure:
            report.fail(f"questionnaire.yaml: {q.id}: add `unsure:` guidance pointing to the "
                        "safe answer for people who are not sure")  # fmt: skip


def check_all(settings: Settings) -> Report:
    report = Report()
    try:
        config = load_config(settings.config_dir)
    except ConfigError as err:
        for line in str(err).splitlines():
            report.fail(line)
        return report
    report.lines.append(f"ok   config loaded from {config.directory}")
    result = walk(config.playbook.flow, config.playbook.rules)
    for problem in result.problems:
        report.fail(f"questionnaire walk: {problem}")
    summary = ", ".join(f"{k} {v}" for k, v in sorted(result.outcomes.items()))
    report.lines.append(f"ok   walked {result.paths} answer paths: {summary}")
    if result.ok:
        report.lines.append("ok   every path ends in exactly one outcome")
        report.lines.append("ok   no red-flag answer reaches the exercises outcome")
    phrases = [p for q in config.playbook.flow.questions.values() for p in q.phrase_problems()]
    for problem in phrases:
        report.fail(f"questionnaire.yaml words: {problem}; reword it or move it to that option")
    if not phrases:
        report.lines.append("ok   every option word is read as its option, and not when negated")
    _check_lexicon(config, report)
    renderer = Renderer(config, settings.template_dir)
    _check_templates(config, renderer, result.longest_reasons, report)
    notes, errors = check_lines(config.whatsapp, config.directory)
    report.lines.extend(notes)
    for error in errors:
        report.fail(error)
    samples = _samples(config, result.longest_reasons)

    def contexts(name: str) -> list[dict[str, Any]]:
        if name == "reprompt":
            return _reprompt_samples(config)
        return [{**SAMPLE_CONTEXT, **samples.get(name, {})}]

    check_languages(config, renderer, contexts, report.lines, report.fail)
    report.lines.append("config OK" if report.ok else "config has problems (see ERROR lines)")
    return report
