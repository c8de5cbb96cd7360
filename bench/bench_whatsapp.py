"""WhatsApp patients through a whole plan with silences: how many reminders arrive, by which route.

Each patient is on a 21-day plan and answers some days, staying silent for 1-3 days at a time.
Sends go through the official SDK to the fake Twilio API, which refuses free-form WhatsApp
messages outside the 24-hour window (63016). Policies compared in the same run:

- baseline: every proactive message free-form on the channel last used (as before issue 15);
- window-aware, no templates (whatsapp.yaml `enabled: false`): SMS fallback, else counted drop;
- window-aware with approved templates.

    .venv/bin/python bench/bench_whatsapp.py --patients 60
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from unittest import mock

import fakeredis
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import keys, whatsapp
from bot.background import Background
from bot.config import load_config
from bot.core import channels
from bot.core.model import Conversation, Inbound, Patient
from bot.core.plan import WEEKDAYS, Plan, due_local_dates
from bot.runtime import build
from bot.settings import ROOT, Settings
from bot.twilio_sender import TwilioSender, TwilioSettings
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

LA = "America/Los_Angeles"
START = datetime(2026, 6, 1, 12, tzinfo=UTC)
KINDS = ("reminder", "checkin", "nudge", "plan_end", "staff_reply")


def config_dir(enabled: bool) -> Path:
    target = Path(tempfile.mkdtemp()) / "config"
    shutil.copytree(ROOT / "config", target)
    data = yaml.safe_load((target / "whatsapp.yaml").read_text())
    data["enabled"] = enabled
    for i, (_kind, by_lang) in enumerate(sorted(data["templates"].items()), start=1):
        by_lang["en"]["content_sid"] = ("HX" + f"{i:x}" * 32) if enabled else ""
    (target / "whatsapp.yaml").write_text(yaml.safe_dump(data))
    return target


def cohort(n: int, seed: int) -> list[tuple[str, bool, set[int]]]:
    """(number, also texted by SMS, plan days the patient stays silent) per patient."""
    rng = random.Random(seed)
    people = []
    for i in range(n):
        silent: set[int] = set()
        day = 1
        while day < 22:
            if rng.random() < 0.45:
                gap = rng.choice((1, 2, 3))
                silent |= set(range(day, day + gap))
                day += gap
            day += 1
        people.append((f"+1310555{i:04d}", i % 3 == 0, silent))
    return people


def run(policy: str, people: list[tuple[str, bool, set[int]]]) -> dict[str, Any]:
    clock_now = [START]
    fake = FakeTwilio().start()
    fake.clock = lambda: clock_now[0].timestamp()
    config = load_config(config_dir(enabled=policy == "templates"))
    for template in config.whatsapp.templates.values():
        if template.content_sid:
            fake.approve(template.content_sid, template.body)
    settings = Settings(redis_url="redis://unused", config_dir=config.directory)
    rt = build(settings, client=fakeredis.FakeRedis(decode_responses=True),
               clock=lambda: clock_now[0], config=config)  # fmt: skip
    sender = TwilioSender(TwilioSettings(ACCOUNT_SID, AUTH_TOKEN, from_number="+19495550000",
                                         api_base_url=fake.base_url))  # fmt: skip
    background = Background.for_sender(rt, sender, rate=None, block_ms=0)
    background.consumer.clock = lambda: clock_now[0].timestamp()
    if policy == "baseline":
        background.consumer.reroute = None  # a refused message was simply lost
    plan = Plan(zone=LA, at=clock_time(9), start=START.date() + timedelta(days=1), days=21,
                weekdays=WEEKDAYS[:6], check_in_weekday="sun")  # fmt: skip
    for number, texted_sms, _silent in people:
        seen = {"whatsapp": START, **({"sms": START - timedelta(days=1)} if texted_sms else {})}
        patient = Patient(number, conversation=Conversation(step="done"), plan=plan.to_json(),
                          last_inbound=seen)  # fmt: skip
        rt.store.update(number, lambda _p, pipe, p=patient: rt.store.queue_save(pipe, p))
        rt.reminders.sync(patient, START)
    due = len(people) * len(due_local_dates(plan))
    started, send_seconds = time.perf_counter(), 0.0
    jobs: Any = rt.reminders.jobs
    for hour in range(24 * 24):
        clock_now[0] = START + timedelta(hours=hour)
        jobs.run_due(clock_now[0], rt.reminders.fire)
        tick = time.perf_counter()
        while background.consumer.run_once():
            pass
        send_seconds += time.perf_counter() - tick
        if clock_now[0].hour == 17:  # 10:00 in Los Angeles: answers come in
            day = (clock_now[0].date() - plan.start).days + 1
            for number, _sms, silent in people:
                if 1 <= day <= 21 and day not in silent:
                    fake.inbound(number)
                    rt.service.handle_inbound(number, Inbound("DONE", "whatsapp"), clock_now[0])
    patients = {number for number, _sms, _silent in people}
    with (
        fake._lock
    ):  # messages to the patients (staff alerts, e.g. a stalled plan, are not counted)
        accepted = [m for m in fake.messages
                    if m.error_code is None and m.to.removeprefix("whatsapp:") in patients]  # fmt: skip
    routes = Counter("template" if m.content_sid else "whatsapp" if m.to.startswith("whatsapp:")
                     else "sms" for m in accepted)  # fmt: skip
    dropped = sum(int(rt.redis.hget(keys.undelivered(n), "count") or 0) for n, _s, _x in people)
    fake.stop()
    return {"due": due, "delivered": len(accepted), "routes": routes, "counted_drops": dropped,
            "seconds": time.perf_counter() - started,
            "ms_per_send": 1000 * send_seconds / max(1, len(accepted))}  # fmt: skip


def baseline_route(patient: Patient, now: datetime, *, has_template: bool,
                   window: timedelta = channels.WINDOW) -> channels.Plan:  # fmt: skip
    """Before issue 15: free-form on the last-used channel, whatever the window."""
    last = channels.last_channel(patient)
    return channels.Plan(channels.Route.WHATSAPP if last == "whatsapp" else channels.Route.SMS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=60)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    people = cohort(args.patients, args.seed)
    print(f"{args.patients} WhatsApp patients (a third also texted by SMS), 21-day plans, "
          "silent 1-3 days at a time on about 40% of days\n")  # fmt: skip
    print(
        "| policy | due | delivered | free-form | template | SMS | lost silently | counted drops | ms/send |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for policy in ("baseline", "no templates", "templates"):
        patch = mock.patch.object(whatsapp, "plan_route", baseline_route) if policy == "baseline" \
            else mock.patch.object(whatsapp, "plan_route", channels.plan_route)  # fmt: skip
        with patch:
            r = run(policy, people)
        lost = r["due"] - r["delivered"] - r["counted_drops"]
        routes = r["routes"]
        print(f"| {policy} | {r['due']} | {r['delivered']} | {routes['whatsapp']} | "
              f"{routes['template']} | {routes['sms']} | {lost} | {r['counted_drops']} | "
              f"{r['ms_per_send']:.1f} |", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
