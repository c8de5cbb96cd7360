"""`bot worker`: sends the outbox, re-escalates alerts, runs reminders; any number may run."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import redis

from bot import reach
from bot.background import Background
from bot.errors import BotError
from bot.privacy import configure_logging, mask
from bot.runtime import build
from bot.scheduler import start_leader
from bot.settings import Settings
from bot.twilio_sender import TwilioSender, TwilioSettings

log = logging.getLogger(__name__)


def twilio_sender(settings: Settings) -> TwilioSender:
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        raise BotError("bot worker needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN to send SMS")
    public = settings.public_base_url
    return TwilioSender(
        TwilioSettings(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token,
            from_number=settings.twilio_from_number,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            api_base_url=settings.twilio_api_base_url,
            status_callback=f"{public}/twilio/status" if public else None,
        )
    )


def redis_warnings(client: Any) -> list[str]:
    """Persistence and eviction settings that would lose reminders or alerts, with the fix."""
    found = []
    try:
        appendonly = client.config_get("appendonly").get("appendonly")
        save = client.config_get("save").get("save")
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy")
    except redis.ResponseError:
        return ["cannot read Redis CONFIG (managed Redis?): make sure AOF or RDB persistence is on"]
    if appendonly != "yes":
        hint = " and RDB snapshots are off too" if not save else ""
        found.append(f"Redis has appendonly={appendonly}{hint}: a restart can lose state and "
                     "reminders; fix: `CONFIG SET appendonly yes` and `appendonly yes` in redis.conf")  # fmt: skip
    if policy != "noeviction":
        found.append(f"Redis maxmemory-policy is {policy}: it may evict conversations or queued "
                     "messages; fix: `CONFIG SET maxmemory-policy noeviction`")  # fmt: skip
    return found


def unreachable_staff(client: Any, on_call: tuple[str, ...], backup: str | None) -> list[str]:
    """A warning for each staff number alerts cannot reach now, with what happens and the fix."""
    numbers = [*on_call, *([backup] if backup else [])]
    return [
        f"staff number {mask(number)} cannot be reached ({why}): its alerts go to the next "
        "number and the backup; fix: text START from that phone to the clinic number"
        for number, why in reach.refusals(client, numbers).items()
    ]


def run_worker(settings: Settings) -> int:
    configure_logging()
    if settings.embedded:
        raise BotError(
            "bot worker needs REDIS_URL (embedded mode runs everything inside `bot serve`)"
        )
    runtime = build(settings)
    try:
        staff = runtime.alerts.staff
        for warning in [*redis_warnings(runtime.redis),
                        *unreachable_staff(runtime.redis, staff.on_call, staff.backup)]:  # fmt: skip
            log.warning("%s", warning)
    except redis.ConnectionError:
        log.warning("Redis is unreachable at start; the worker keeps retrying until it is back")
    rate = runtime.config.clinic.send_rate_per_second
    background = Background.for_sender(runtime, twilio_sender(settings), rate=rate)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    threads = background.start(stop)
    stop_scheduling = start_leader(runtime, stop)
    log.info("worker %s started: sending at most %s msg/s", background.consumer.name, rate)
    stop.wait()
    stop_scheduling()
    for thread in threads:
        thread.join(timeout=5)
    log.info("worker stopped")
    return 0
