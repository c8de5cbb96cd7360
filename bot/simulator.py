"""`bot chat`: a local simulator. Type as a patient; see replies, staff alerts and reminders."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TextIO

import fakeredis

from bot.core.model import Inbound
from bot.errors import BotError
from bot.outbox import bare
from bot.privacy import mask
from bot.runtime import Runtime, build
from bot.settings import Settings

HELP = """Commands: /advance 1d | 3h | 30m (move the simulated clock; due reminders and alert
re-sends fire), /until 18:30 (move to that local time, today or tomorrow), /start 2026-04-06
09:00 (set the clinic-local start time, before the first message), /time, /staff TEXT (text
the bot as the first on-call staff member, e.g. /staff ACK K7Q2M), /whatsapp and /sms (switch
the channel the patient writes on: same number, same person), /help, /quit. Anything else is
sent as the patient's message."""
_SPAN = re.compile(r"^(\d+)\s*([dhm])$")


class SimClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, span: timedelta) -> None:
        self.now += span


def parse_span(text: str) -> timedelta | None:
    m = _SPAN.match(text.strip().lower())
    if not m:
        return None
    amount, unit = int(m.group(1)), m.group(2)
    return {
        "d": timedelta(days=amount),
        "h": timedelta(hours=amount),
        "m": timedelta(minutes=amount),
    }[unit]


class Simulator:
    def __init__(self, runtime: Runtime, clock: SimClock, phone: str, out: TextIO) -> None:
        self.rt = runtime
        self.clock = clock
        self.phone = phone
        self.out = out
        self.background = runtime_background(runtime)
        self.count = 0

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def send(self, text: str, sender: str | None = None) -> None:
        self.count += 1
        who = sender or self.phone
        channel = "whatsapp" if who.startswith("whatsapp:") else "sms"  # --phone whatsapp:+1...
        handled = self.rt.service.handle_inbound(bare(who), Inbound(text, channel), self.clock(),
                                                 f"SIM{self.count:06d}")  # fmt: skip
        for reply in handled.replies:
            self.say(_indent("bot> ", reply))
        self.tick()

    def tick(self) -> None:
        for to, body in self.background.step(self.clock()):
            label = "you" if bare(to) == bare(self.phone) else f"staff {mask(to)}"
            how = "WhatsApp" if to.startswith("whatsapp:") else "SMS"
            self.say(_indent(f"[{how} to {label}] ", body))

    def command(self, line: str) -> bool:
        """Handle a /command; False means quit."""
        name, _, rest = line[1:].partition(" ")
        if name in ("quit", "exit", "q"):
            return False
        if name == "advance":
            span = parse_span(rest)
            if span is None:
                self.say("usage: /advance 1d | 3h | 30m")
                return True
            self.advance(span)
        elif name == "until":
            self._until(rest)
        elif name == "start":
            self._start(rest)
        elif name == "time":
            self.say(f"simulated time: {self.clock().isoformat()}")
        elif name in ("whatsapp", "sms"):
            self.phone = bare(self.phone) if name == "sms" else f"whatsapp:{bare(self.phone)}"
            self.say(f"(now writing by {'WhatsApp' if name == 'whatsapp' else 'SMS'})")
        elif name == "staff":
            self.send(rest, self.rt.service.alerts.staff.on_call[0])
        else:
            self.say(HELP)
        return True

    def _until(self, text: str) -> None:
        """Advance to the next clinic-local HH:MM (later today, else tomorrow)."""
        try:
            at = time.fromisoformat(text.strip())
        except ValueError:
            self.say("usage: /until 18:30")
            return
        zone = self.rt.config.clinic.zone
        local = self.clock().astimezone(zone)
        target = datetime.combine(local.date(), at, zone)
        if target <= local:
            target = datetime.combine(local.date() + timedelta(days=1), at, zone)
        self.advance(target.astimezone(UTC) - self.clock())

    def _start(self, text: str) -> None:
        """Set the simulated clock (clinic-local), only before the first message."""
        try:
            local = datetime.fromisoformat(text.strip())
        except ValueError:
            self.say("usage: /start 2026-04-06 09:00")
            return
        if self.count:
            self.say("/start only works before the first message; use /advance or /until")
            return
        zone = self.rt.config.clinic.zone
        self.clock.now = local.replace(tzinfo=zone).astimezone(UTC)

    def advance(self, span: timedelta) -> None:
        """Move in steps of at most 15 minutes so every due job fires at its time."""
        end = self.clock() + span
        while self.clock() < end:
            self.clock.advance(min(timedelta(minutes=15), end - self.clock()))
            self.tick()
        self.say(
            f"(simulated time is now {self.clock().astimezone(self.rt.config.clinic.zone):%a %Y-%m-%d %H:%M %Z})"
        )


def _indent(prefix: str, text: str) -> str:
    pad = " " * len(prefix)
    return prefix + ("\n" + pad).join(text.splitlines())


def _lines(script: str | None) -> Iterator[str]:
    if script:
        yield from Path(script).read_text(encoding="utf-8").splitlines()
        return
    while True:
        try:
            yield input("you> ")
        except EOFError:
            return


def runtime_background(rt: Runtime):  # type: ignore[no-untyped-def]
    from bot.background import Background

    return Background.console(rt)


def run_chat(settings: Settings, phone: str, script: str | None, out: TextIO = sys.stdout,
             start: datetime | None = None, lang: str | None = None) -> int:  # fmt: skip
    logging.getLogger().setLevel(logging.ERROR)  # the transcript is the output
    clock = SimClock(start or datetime.now(UTC).replace(microsecond=0))
    # In memory: a simulated clock's reminders must never reach the real store.
    rt = build(replace(settings, redis_url=None), clock=clock,
               client=fakeredis.FakeRedis(decode_responses=True))  # fmt: skip
    if lang is not None:  # `--lang es`: the patient is answered in Spanish from the first reply
        offered = rt.config.clinic.languages.offered
        if lang not in offered:
            raise BotError(
                f"--lang {lang}: not one of the offered languages ({', '.join(offered)})"
            )
        rt.store.update(phone, lambda p, pipe: rt.store.queue_save(pipe, replace(p, lang=lang)))
    sim = Simulator(rt, clock, phone, out)
    if not script:
        sim.say(f"Simulated chat with {rt.config.clinic.name} as {phone}. {HELP}")
    return _run(sim, _lines(script), echo=bool(script))


def _run(sim: Simulator, lines: Iterable[str], echo: bool) -> int:
    for raw in lines:
        line = raw.rstrip("\n")
        if echo and line.strip() and not line.startswith("#"):
            sim.say(f"you> {line}")
        if line.startswith("#"):
            continue
        if line.startswith("/"):
            if not sim.command(line):
                break
            continue
        sim.send(line)
    return 0
