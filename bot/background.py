"""Work that runs on its own: the outbox consumer, alert re-escalation, reminder ticks."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime

from bot.outbox import OutboxConsumer, drain
from bot.runtime import Runtime
from bot.twilio_sender import Sender, SendResult

log = logging.getLogger(__name__)
TICK_SECONDS = 5.0
Tick = Callable[[datetime], None]


class CapturingSender:
    """Embedded/simulated sending: keeps (to, body) for the caller to show."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def send(self, to: str, body: str) -> SendResult:
        with self._lock:
            self.sent.append((to, body))
            return SendResult(f"SMsim{len(self.sent):027d}")

    def find_sent(self, to: str, body: str, since: float) -> str | None:
        return None

    def take(self) -> list[tuple[str, str]]:
        with self._lock:
            out, self.sent = self.sent, []
            return out


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Background:
    """Runs each tick (alert timers, reminders) and sends what the outbox holds."""

    def __init__(
        self, rt: Runtime, consumer: OutboxConsumer, ticks: list[Tick] | None = None
    ) -> None:
        self.rt = rt
        self.consumer = consumer
        self.ticks: list[Tick] = [rt.alerts.run_timers_tick, rt.retention.tick, *(ticks or [])]

    @classmethod
    def for_sender(cls, rt: Runtime, sender: Sender, *, rate: float | None,
                   block_ms: int = 1000, simulated: bool = False) -> Background:  # fmt: skip
        consumer = OutboxConsumer(rt.redis, sender, consumer_name=consumer_name(), rate=rate,
                                  clock=lambda: rt.clock().timestamp(),
                                  on_permanent=lambda to, code: rt.store.carrier_refused(
                                      to, code, rt.clock()),
                                  on_undeliverable=rt.alerts.reroute,
                                  staff=rt.service.staff_numbers,
                                  claim_idle_ms=rt.settings.claim_idle_ms,
                                  block_ms=block_ms)  # fmt: skip
        consumer.reroute = rt.outreach.reroute  # WhatsApp: outside the window, the next route
        return cls(rt, consumer, reminder_ticks(rt, simulated=simulated))

    @classmethod
    def console(cls, rt: Runtime) -> Simulated:
        capture = CapturingSender()
        background = cls.for_sender(rt, capture, rate=None, block_ms=0, simulated=True)
        return Simulated(background, capture)

    def tick(self, now: datetime) -> None:
        for tick in self.ticks:
            try:
                tick(now)
            except Exception:
                log.exception("background tick failed")

    def start(self, stop: threading.Event) -> list[threading.Thread]:
        def ticker() -> None:
            while not stop.is_set():
                self.tick(self.rt.clock())
                stop.wait(TICK_SECONDS)

        threads = [
            threading.Thread(
                target=self.consumer.run_forever, args=(stop,), name="outbox", daemon=True
            ),
            threading.Thread(target=ticker, name="ticker", daemon=True),
        ]
        for thread in threads:
            thread.start()
        return threads


class Simulated:
    """Step-by-step background for `bot chat` and tests: tick, drain, return what was sent."""

    def __init__(self, background: Background, capture: CapturingSender) -> None:
        self.background = background
        self.capture = capture

    def step(self, now: datetime) -> list[tuple[str, str]]:
        self.background.tick(now)
        self.background.consumer.clock = now.timestamp  # sends happen at the simulated time
        drain(self.background.consumer)
        return self.capture.take()


def reminder_ticks(rt: Runtime, *, simulated: bool = False) -> list[Tick]:
    """Embedded and simulated runs drive the reminder jobs from the tick's clock; a worker runs
    APScheduler's own thread instead, while it leads (bot.scheduler.start_leader)."""
    if not (simulated or rt.settings.embedded):
        return []
    reminders = rt.reminders

    def run_due_reminders(now: datetime) -> None:
        reminders.jobs.run_due(now, reminders.fire)

    return [run_due_reminders]
