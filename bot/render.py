"""Jinja2 rendering of every message (StrictUndefined) and SMS-safe text (GSM-7, segments)."""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import jinja2

from bot.config import Config
from bot.core.model import Reply
from bot.errors import ConfigError

log = logging.getLogger(__name__)

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
MAX_BODY = 1600  # Twilio's limit for one message body
GSM7_EXTENDED = "^{}\\[~]|€\f"
_GSM = frozenset(GSM7_BASIC) | frozenset(GSM7_EXTENDED)
_TO_GSM = str.maketrans(
    {
        "‘": "'", "’": "'", "‚": "'", "′": "'", "“": '"', "”": '"', "„": '"', "″": '"',
        "–": "-", "—": "-", "‒": "-", "−": "-", "…": "...", "\u00a0": " ", "\u2009": " ",
        "\u202f": " ", "•": "-", "·": "-", "°": " degrees", "×": "x",
    }
)  # fmt: skip


def sms_safe(text: str) -> str:
    """Curly quotes, dashes and friends to their GSM-7 equivalents; trims trailing spaces."""
    text = text.translate(_TO_GSM)
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def fold_to_gsm7(text: str) -> str:
    """Letters outside GSM-7 without their accent ('día' -> 'dia'), as Twilio Smart Encoding does;
    GSM-7's own accented letters (é, ñ, ü, à, ¿, ¡) stay."""
    out = []
    for ch in text:
        if ch in _GSM:
            out.append(ch)
            continue
        bare = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
        out.append(bare if bare and all(c in _GSM for c in bare) else ch)
    return "".join(out)


def is_gsm7(text: str) -> bool:
    return all(ch in _GSM for ch in text)


def segments(text: str) -> int:
    """How many SMS segments a message takes (GSM-7 160/153, else UCS-2 70/67)."""
    if is_gsm7(text):
        units = sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
        return 1 if units <= 160 else math.ceil(units / 153)
    units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)
    return 1 if units <= 70 else math.ceil(units / 67)


def _environment(loader: jinja2.BaseLoader) -> jinja2.Environment:
    return jinja2.Environment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,  # loaded once per process, like the YAML config: restart to change
    )


class Renderer:
    """Renders a Reply with the clinic's content; templates live in templates/<channel-kind>/."""

    def __init__(self, config: Config, template_dir: str | Path) -> None:
        self.config = config
        self.root = Path(template_dir)
        self.default = config.clinic.languages.default
        self.fold = config.clinic.sms_encoding == "gsm7"
        # templates/sms/NAME.j2 is the default language; templates/sms/es/NAME.j2 its Spanish. The
        # web chat says a few things differently (no "Reply STOP", no message rates):
        # templates/chat/[es/]NAME.j2 overrides the SMS template there.
        self.envs: dict[tuple[str, str], jinja2.Environment] = {}
        for lang in config.clinic.languages.offered:
            sms, chat = self.folder("sms", lang), self.folder("chat", lang)
            sms_env = _environment(jinja2.FileSystemLoader(str(sms)))
            self.envs["sms", lang] = sms_env
            self.envs["web", lang] = _environment(
                jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(chat)), sms_env.loader])  # type: ignore[list-item]
            )
        for (_, lang), env in self.envs.items():
            env.filters["t"] = partial(self.term, lang=lang)
        self.env = self.envs["sms", self.default]

    def term(self, value: object, lang: str) -> str:
        """A word the core says in the default language ('Sunday', 'Mon-Sat'), in `lang`."""
        t = self.config.translations.get(lang)
        said = str(value)
        if t is None:
            return said
        terms = t.model.terms
        if said in terms:
            return terms[said]
        return re.sub(r"[A-Za-z]+", lambda m: terms.get(m[0], m[0]), said)

    def folder(self, kind: str, lang: str) -> Path:
        return self.root / kind if lang == self.default else self.root / kind / lang

    def base(self, lang: str) -> dict[str, Any]:
        return {"clinic": self.config.clinic_in(lang), "exercises": self.config.exercises_in(lang),
                "lang": lang}  # fmt: skip

    def _translated(self, context: Mapping[str, Any], lang: str) -> dict[str, Any]:
        """Reasons come from triage.yaml in the default language: said in `lang`."""
        t = self.config.translations.get(lang)
        if t is None or "reasons" not in context:
            return dict(context)
        said = [t.model.reasons.get(r, r) for r in context["reasons"]]
        return {**context, "reasons": said}

    def render(self, template: str, context: Mapping[str, Any] | None = None,
               channel: str = "sms", lang: str | None = None) -> str:  # fmt: skip
        lang = lang if lang in self.config.clinic.languages.offered else self.default
        env = self.envs["web" if channel == "web" else "sms", lang]
        path = self.folder("sms", lang) / f"{template}.j2"
        try:
            tmpl = env.get_template(f"{template}.j2")
            text = sms_safe(
                tmpl.render({**self.base(lang), **self._translated(context or {}, lang)})
            )
        except jinja2.TemplateNotFound as err:
            if lang != self.default:  # check-config fails on it; a patient still gets an answer
                log.error("%s: translation missing; the default language is sent", path)
                return self.render(template, context, channel, self.default)
            raise ConfigError(f"{path}: template missing; create it") from err
        except jinja2.UndefinedError as err:
            raise ConfigError(f"{path}: {err}") from err
        return fold_to_gsm7(text) if self.fold and channel != "web" else text

    def reply(self, reply: Reply, channel: str = "sms", lang: str | None = None) -> list[str]:
        return self.reply_named(reply.template, reply.context, channel, lang)

    def reply_named(self, template: str, context: Mapping[str, Any] | None = None,
                    channel: str = "sms", lang: str | None = None) -> list[str]:  # fmt: skip
        """A template's messages: a line of `===` in a template starts another message."""
        text = self.render(template, context, channel, lang)
        return [part.strip() for part in text.split("\n===\n") if part.strip()]

    def messages(
        self, replies: Iterable[Reply], channel: str = "sms", lang: str | None = None
    ) -> list[str]:
        """One step's replies as the messages to send. By SMS they go as one message (up to
        Twilio's 1,600 characters), because Twilio does not keep the order of several messages;
        a part that repeats an earlier one is dropped. The web chat shows each as a bubble."""
        parts: list[str] = []
        for reply in replies:
            parts.extend(p for p in self.reply(reply, channel, lang) if p not in parts)
        if channel == "web":
            return parts
        joined: list[str] = []
        for part in parts:
            if joined and len(joined[-1]) + 2 + len(part) <= MAX_BODY:
                joined[-1] += "\n\n" + part
            else:
                joined.append(part)
        return joined

    def names(self, channel: str = "sms", lang: str | None = None) -> list[str]:
        folder = self.folder("chat" if channel == "web" else "sms", lang or self.default)
        return sorted(p.stem for p in folder.glob("*.j2"))
