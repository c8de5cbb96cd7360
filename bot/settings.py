"""Settings from the environment (SPEC.md's table); nothing is read at import time."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.config_schema import e164
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
# The value the README's example .env shows; a deployment that copied it is refused.
PLACEHOLDER_SECRET = "change-me-to-a-long-random-string"
MIN_SECRET_LENGTH = 32
MAKE_SECRET = "`python -c 'import secrets; print(secrets.token_hex(32))'`"


def _int(env: Mapping[str, str], name: str) -> int:
    raw = env.get(name, "").strip() or "0"
    if not raw.isdigit():
        raise ConfigError(f"{name}: {raw!r} is not a whole number (how many proxies are in front)")
    return int(raw)


def _check_production(redis_url: object, secret: str | None) -> None:
    """Production never runs embedded (unsigned webhooks, nothing shared) or with a weak key."""
    if not redis_url:
        raise ConfigError(
            "BOT_ENV=production needs REDIS_URL: without it the bot would run embedded, with a "
            "local store and (without TWILIO_AUTH_TOKEN) unsigned webhooks. Set REDIS_URL, e.g. "
            "redis://:PASSWORD@redis:6379/0"
        )
    if not secret:
        raise ConfigError(
            "BOT_SECRET_KEY is unset: in production every web process must sign web-chat "
            f"cookies with the same key; set it to the output of {MAKE_SECRET}"
        )
    if secret.strip() == PLACEHOLDER_SECRET or len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"BOT_SECRET_KEY is the README's placeholder or shorter than {MIN_SECRET_LENGTH} "
            f"characters: anyone could forge web-chat cookies; set it to the output of {MAKE_SECRET}"
        )


def _embedded_secret(data_dir: Path) -> str:
    """The embedded store's key file (0600), created on first use; a per-process key when the
    folder cannot be written."""
    path = data_dir / "secret_key"
    try:
        if not path.exists():
            data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            temp = data_dir / f".secret_key.{os.getpid()}"
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_hex(32))
            try:
                os.link(temp, path)  # whole or not at all; a process that made it first wins
            except FileExistsError:
                pass
            finally:
                temp.unlink()
        return path.read_text(encoding="ascii").strip()
    except OSError:
        # Commands that need no store (check-config, triage) must still run; the store itself
        # reports an unwritable BOT_DATA_DIR when it is opened.
        return secrets.token_hex(32)


@dataclass(frozen=True)
class Settings:
    redis_url: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = field(default=None, repr=False)
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_base_url: str | None = None
    public_base_url: str | None = None
    staff_alert_numbers: tuple[str, ...] = ()
    config_dir: Path = ROOT / "config"
    template_dir: Path = ROOT / "templates"
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32), repr=False)
    spool_dir: Path = ROOT / "spool"
    data_dir: Path = ROOT / "data"  # the embedded store's files (no REDIS_URL)
    production: bool = False
    trusted_proxies: int = 0  # reverse proxies in front that set X-Forwarded-For/-Proto
    claim_idle_ms: int = 30_000  # outbox entries idle this long are taken over by another worker

    @property
    def embedded(self) -> bool:
        return not self.redis_url

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        staff: tuple[str, ...] = ()
        if raw := env.get("STAFF_ALERT_NUMBERS", "").strip():
            try:
                staff = tuple(e164(n.strip()) for n in raw.split(",") if n.strip())
            except ValueError as err:
                raise ConfigError(f"STAFF_ALERT_NUMBERS: {err}") from err
        kwargs: dict[str, object] = {
            "redis_url": env.get("REDIS_URL") or None,
            "twilio_account_sid": env.get("TWILIO_ACCOUNT_SID") or None,
            "twilio_auth_token": env.get("TWILIO_AUTH_TOKEN") or None,
            "twilio_from_number": env.get("TWILIO_FROM_NUMBER") or None,
            "twilio_messaging_service_sid": env.get("TWILIO_MESSAGING_SERVICE_SID") or None,
            "twilio_api_base_url": env.get("TWILIO_API_BASE_URL") or None,
            "public_base_url": (env.get("PUBLIC_BASE_URL") or "").rstrip("/") or None,
            "staff_alert_numbers": staff,
            "config_dir": Path(env.get("BOT_CONFIG_DIR") or ROOT / "config"),
            "template_dir": Path(env.get("BOT_TEMPLATE_DIR") or ROOT / "templates"),
            "spool_dir": Path(env.get("BOT_SPOOL_DIR") or ROOT / "spool"),
            "data_dir": Path(env.get("BOT_DATA_DIR") or ROOT / "data"),
            "production": (env.get("BOT_ENV") or "").lower() == "production",
            "trusted_proxies": _int(env, "BOT_TRUSTED_PROXIES"),
            "claim_idle_ms": int(env.get("BOT_CLAIM_IDLE_MS") or 30_000),
        }
        if secret := env.get("BOT_SECRET_KEY"):
            kwargs["secret_key"] = secret
        elif not kwargs["redis_url"] and not kwargs["production"]:
            # Embedded: one key kept beside the store, so chats and invites survive a restart.
            kwargs["secret_key"] = _embedded_secret(Path(str(kwargs["data_dir"])))
        if kwargs["production"]:
            _check_production(kwargs.get("redis_url"), env.get("BOT_SECRET_KEY"))
        return cls(**kwargs)  # type: ignore[arg-type]

    def problems(self) -> list[str]:
        """What stops this configuration from working; empty when it can run."""
        found = []
        if not self.embedded:
            if not self.twilio_auth_token:
                found.append("TWILIO_AUTH_TOKEN is unset: every webhook will be refused (403)")
            if not (self.twilio_from_number or self.twilio_messaging_service_sid):
                found.append("set TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID to send SMS")
        return found
