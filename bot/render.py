"""Jinja2 rendering of every message (StrictUndefined) and SMS-safe text (GSM-7, segments)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jinja2

from bot.config import Config
from bot.core.model import Reply
from bot.errors import ConfigError

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
        self.env = _environment(jinja2.FileSystemLoader(str(self.root / "sms")))
        # The web chat says a few things differently (no "Reply STOP", no message rates):
        # templates/chat/NAME.j2 overrides templates/sms/NAME.j2 there.
        self.web_env = _environment(
            jinja2.ChoiceLoader(
                [jinja2.FileSystemLoader(str(self.root / "chat")), self.env.loader]  # type: ignore[list-item]
            )
        )
        self.base: dict[str, Any] = {"clinic": config.clinic, "exercises": config.exercises}

    def render(
        self, template: str, context: Mapping[str, Any] | None = None, channel: str = "sms"
    ) -> str:
        env = self.web_env if channel == "web" else self.env
        try:
            tmpl = env.get_template(f"{template}.j2")
            return sms_safe(tmpl.render({**self.base, **(context or {})}))
        except jinja2.TemplateNotFound as err:
            raise ConfigError(
                f"{self.root / 'sms' / (template + '.j2')}: template missing; create it"
            ) from err
        except jinja2.UndefinedError as err:
            raise ConfigError(f"{self.root / 'sms' / (template + '.j2')}: {err}") from err

    def reply(self, reply: Reply, channel: str = "sms") -> list[str]:
        return self.reply_named(reply.template, reply.context, channel)

    def reply_named(
        self, template: str, context: Mapping[str, Any] | None = None, channel: str = "sms"
    ) -> list[str]:
        """A template's messages: a line of `===` in a template starts another message."""
        text = self.render(template, context, channel)
        return [part.strip() for part in text.split("\n===\n") if part.strip()]

    def messages(self, replies: Iterable[Reply], channel: str = "sms") -> list[str]:
        """One step's replies as the messages to send. By SMS they go as one message (up to
        Twilio's 1,600 characters), because Twilio does not keep the order of several messages;
        a part that repeats an earlier one is dropped. The web chat shows each as a bubble."""
        parts: list[str] = []
        for reply in replies:
            parts.extend(p for p in self.reply(reply, channel) if p not in parts)
        if channel == "web":
            return parts
        joined: list[str] = []
        for part in parts:
            if joined and len(joined[-1]) + 2 + len(part) <= MAX_BODY:
                joined[-1] += "\n\n" + part
            else:
                joined.append(part)
        return joined

    def names(self, channel: str = "sms") -> list[str]:
        folder = "chat" if channel == "web" else "sms"
        return sorted(p.stem for p in (self.root / folder).glob("*.j2"))
