"""config/whatsapp.yaml: each proactive message kind's approved template per language, validated."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, StrictStr, ValidationError

from bot.config_schema import Model
from bot.core.channels import PROACTIVE
from bot.errors import ConfigError

FILE = "whatsapp.yaml"
CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
PLACEHOLDER = re.compile(r"\{\{\s*([0-9]+)\s*\}\}")
MAX_BODY = 1024  # WhatsApp's limit for a template body with its values filled in


class ButtonModel(Model):
    id: StrictStr = Field(min_length=1, max_length=256)  # what the tap sends back: a keyword
    title: StrictStr = Field(min_length=1, max_length=20)  # WhatsApp's limit for a button label


class TemplateModel(Model):
    content_sid: StrictStr = ""
    body: StrictStr = Field(min_length=1, max_length=MAX_BODY)
    variables: dict[StrictStr, StrictStr] = Field(default_factory=dict)
    buttons: list[ButtonModel] = Field([], max_length=3)


class WhatsAppModel(Model):
    enabled: bool = False
    languages: list[StrictStr] = Field(default_factory=lambda: ["en"])
    window_hours: int = Field(24, ge=1, le=24)
    templates: dict[StrictStr, dict[StrictStr, TemplateModel]] = Field(default_factory=dict)


@dataclass(frozen=True)
class Template:
    """One approved WhatsApp template: `body` with {{1}}.. placeholders filled from `variables`
    (placeholder -> the name of a value the message kind provides)."""

    kind: str
    lang: str
    content_sid: str
    body: str
    variables: tuple[tuple[str, str], ...] = ()
    buttons: tuple[tuple[str, str], ...] = ()  # (id sent back on a tap, label)

    def values(self, context: Mapping[str, Any]) -> dict[str, str]:
        """ContentVariables. WhatsApp refuses an empty value and one with new lines, tabs or
        runs of spaces: whitespace is folded to single spaces and a missing value becomes '-'."""
        found = {key: context.get(name) for key, name in self.variables}
        return {
            key: " ".join(str("" if v is None else v).split()) or "-" for key, v in found.items()
        }

    def text(self, context: Mapping[str, Any]) -> str:
        """The body as the person will read it."""
        values = self.values(context)
        return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), self.body)

    def content(self, context: Mapping[str, Any]) -> str:
        """What the outbox carries for a template send: SID and ContentVariables as JSON."""
        return json.dumps({"sid": self.content_sid, "vars": self.values(context)},
                          separators=(",", ":"), sort_keys=True)  # fmt: skip


@dataclass(frozen=True)
class WhatsAppSetup:
    enabled: bool = False
    languages: tuple[str, ...] = ("en",)
    window_hours: int = 24
    templates: Mapping[tuple[str, str], Template] = field(default_factory=dict)
    configured: bool = False  # False when config/whatsapp.yaml does not exist

    def template(self, kind: str, lang: str) -> Template | None:
        """The usable (approved, SID filled in) template for a kind in a language."""
        found = self.templates.get((kind, lang))
        return found if found is not None and found.content_sid else None

    def missing(self) -> list[tuple[str, str]]:
        """(kind, language) pairs in use that have no usable template."""
        if not self.enabled:
            return []
        return [(k, lang) for lang in self.languages for k in PROACTIVE
                if self.template(k, lang) is None]  # fmt: skip

    def button_ids(self) -> frozenset[str]:
        return frozenset(b for t in self.templates.values() for b, _ in t.buttons)


def load_whatsapp(root: Path, known_words: frozenset[str]) -> WhatsAppSetup:
    """Read and check config/whatsapp.yaml; a missing file means no templates (SMS fallback)."""
    path = root / FILE
    if not path.is_file():
        return WhatsAppSetup()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        model = WhatsAppModel.model_validate(raw)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    except ValidationError as err:
        lines = [f"{path}: key `{'.'.join(str(p) for p in e['loc'])}`: {e['msg']}"
                 for e in err.errors()]  # fmt: skip
        raise ConfigError("\n".join(lines)) from err
    problems: list[str] = []
    templates: dict[tuple[str, str], Template] = {}
    for kind, by_lang in model.templates.items():
        for lang, t in by_lang.items():
            where = f"{path}: key `templates.{kind}.{lang}`"
            problems += _problems(kind, t, known_words, where)
            templates[(kind, lang)] = Template(
                kind, lang, t.content_sid, t.body, tuple(sorted(t.variables.items())),
                tuple((b.id, b.title) for b in t.buttons),
            )  # fmt: skip
    if problems:
        raise ConfigError("\n".join(problems))
    return WhatsAppSetup(model.enabled, tuple(model.languages), model.window_hours, templates,
                         configured=True)  # fmt: skip


def _problems(kind: str, t: TemplateModel, known_words: frozenset[str], where: str) -> list[str]:
    if kind not in PROACTIVE:
        return [f"{where}: unknown message kind; use one of {', '.join(PROACTIVE)}"]
    found: list[str] = []
    if t.content_sid and not CONTENT_SID.match(t.content_sid):
        found.append(f"{where}.content_sid: {t.content_sid!r} is not a Content SID like HX + 32 "
                     "hex digits (Twilio console, Messaging > Content Template Builder)")  # fmt: skip
    placeholders = PLACEHOLDER.findall(t.body)
    if set(placeholders) != set(t.variables):
        found.append(f"{where}: the body's placeholders {sorted(set(placeholders))} and "
                     f"`variables` {sorted(t.variables)} must name the same numbers")  # fmt: skip
    if unknown := sorted(set(t.variables.values()) - set(PROACTIVE[kind])):
        found.append(f"{where}.variables: {kind} has no value {', '.join(unknown)}; use "
                     f"{', '.join(PROACTIVE[kind])}")  # fmt: skip
    stripped = t.body.strip()
    if PLACEHOLDER.match(stripped) or re.search(r"\}\}\s*$", stripped):
        found.append(f"{where}.body: WhatsApp rejects a body that starts or ends with a variable")
    if re.search(r"\}\}\s*\{\{", t.body):
        found.append(f"{where}.body: WhatsApp rejects two variables next to each other")
    if bad := [b.id for b in t.buttons if b.id.lower() not in known_words]:
        found.append(f"{where}.buttons: ids {bad} are not keywords the bot understands "
                     "(config/keywords.yaml, e.g. DONE, SKIP)")  # fmt: skip
    return found


SAMPLES = {"clinic_name": "Impact PT", "clinic_phone": "(949) 409-1339", "day": 3, "days": 21,
           "booking_url": "https://example.com/book", "done": 15, "planned": 18}  # fmt: skip


def check_lines(setup: WhatsAppSetup, root: Path) -> tuple[list[str], list[str]]:
    """(notes, errors) for `bot check-config`: every body to submit for approval, and each
    (kind, language) in use that has no approved template."""
    if not setup.configured:
        return [
            f"note WhatsApp templates: {root / FILE} missing (copy it from the project's "
            "config/): outside the 24-hour window only SMS fallback is possible"
        ], []
    notes = [f"note WhatsApp: {'enabled' if setup.enabled else 'off'}; languages "
             f"{', '.join(setup.languages)}; templates to submit (Twilio Content Template "
             "Builder, category Utility; quick-reply type where there are buttons):"]  # fmt: skip
    for (kind, lang), t in sorted(setup.templates.items()):
        names = ", ".join(f"{{{{{k}}}}}={v} (e.g. {SAMPLES.get(v, v)})" for k, v in t.variables)
        notes.append(f"note   {kind} [{lang}] {t.content_sid or '(no Content SID yet)'}")
        notes.append(f"note     body: {t.body}")
        if names:
            notes.append(f"note     variables: {names}")
        if t.buttons:
            notes.append("note     quick-reply buttons: "
                         + ", ".join(f"{title} (id {bid})" for bid, title in t.buttons))  # fmt: skip
    if not setup.enabled:
        notes.append("note   while off, a kind without a Content SID reaches a WhatsApp patient "
                     "outside the 24-hour window only by SMS, if they also texted by SMS")  # fmt: skip
    errors = []
    for kind, lang in setup.missing():
        found = setup.templates.get((kind, lang))
        fix = (f"submit the body above and set `templates.{kind}.{lang}.content_sid`" if found
               else f"add `templates.{kind}.{lang}` with a body, submit it, set its content_sid")  # fmt: skip
        errors.append(f"{root / FILE}: WhatsApp is enabled but {kind} [{lang}] has no approved "
                      f"template: {fix}")  # fmt: skip
    return notes, errors
