"""Privacy in logs: numbers masked to the last 4 digits; bodies and tokens never logged."""

from __future__ import annotations

import logging
import os
import re

from bot.errors import ConfigError

_NUMBER = re.compile(r"(?<![\w])(?:whatsapp:)?\+?\d[\d\s().-]{6,}\d")
_SECRET = re.compile(r"\b(AC|SK|MG|SM|MM)[0-9a-fA-F]{32}\b|\b[0-9a-f]{32}\b")


def mask(number: str | None) -> str:
    """'+19495550101' -> '...0101'."""
    digits = re.sub(r"\D", "", number or "")
    return f"...{digits[-4:]}" if digits else "..."


def scrub(text: str) -> str:
    """Mask anything that looks like a phone number, account SID or token."""
    text = _SECRET.sub(lambda m: f"{m.group(0)[:2]}…", text)
    return _NUMBER.sub(lambda m: mask(m.group(0)), text)


class PrivacyFilter(logging.Filter):
    """Applied to every handler: formats the record, then scrubs the result."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = scrub(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


def configure_logging(level: int | None = None) -> None:
    """Logs to stderr through the privacy filter, at `level` or $LOG_LEVEL (default INFO)."""
    if level is None:
        name = os.environ.get("LOG_LEVEL", "INFO").strip().upper()
        level = logging.getLevelNamesMapping().get(name)
        if level is None:
            raise ConfigError(f"LOG_LEVEL={name!r} is not a log level: use DEBUG (a line per "
                              "message, numbers masked), INFO, WARNING or ERROR")  # fmt: skip
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(PrivacyFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("twilio.http_client", "werkzeug", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
