"""Benchmark: N enrolled patients due in the same minute, real Redis, `bot worker` processes, the
fake Twilio API (no rate limit): time to hand every reminder to the SDK, lateness, memory.

    .venv/bin/python bench/bench_reminders.py [--patients 10000] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import keys
from bot.core.model import Conversation, Patient
from bot.core.plan import WEEKDAYS, Plan
from bot.reminders import Wake
from bot.runtime import Runtime, build
from bot.scheduler import JobBook
from bot.settings import ROOT, Settings
from bot.store import patient_to_json
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN
from tests.redis_server import RedisServer, free_port

ANSWERS = {"consent": True, "red_flags": [0], "age": 34, "injury": False, "mechanical": [0],
           "systemic": [0], "location": 1, "pain_rest": 2, "pain_run": 3, "settles": True,
           "duration": 2, "calf_stiff": True, "ktw": {"left": 8.0, "right": 12.0}}  # fmt: skip


def noon_zone(now: datetime) -> str:
    offset = (12 - now.hour + 12) % 24 - 12
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


def phone(n: int) -> str:
    return f"+1310{n:07d}"


def seed(rt: Runtime, count: int, due: datetime) -> None:
    """Patients as the engine leaves them after enrolment, each with a job for `due`."""
    zone = noon_zone(due)
    local = due.astimezone(ZoneInfo(zone))
    plan = Plan(zone=zone, at=clock_time(local.hour, local.minute), start=local.date(), days=21,
                weekdays=WEEKDAYS, check_in_weekday="sun", baseline_pain=3,
                baseline_ktw=8.0)  # fmt: skip
    conversation = Conversation(step="done", answers=ANSWERS, started_at=due - timedelta(days=1),
                                last_at=due - timedelta(days=1), outcome="exercises")  # fmt: skip
    for start in range(0, count, 1000):
        pipe = rt.redis.pipeline(transaction=False)
        for n in range(start, min(count, start + 1000)):
            p = Patient(phone(n), conversation=conversation, plan=plan.to_json())
            pipe.set(keys.patient(p.phone), patient_to_json(p), ex=rt.store.retention)
            pipe.sadd(keys.PATIENTS, p.phone)
        pipe.execute()
    jobs = rt.reminders.jobs
    assert isinstance(jobs, JobBook)
    wake = Wake(zone, plan.at, plan.start)
    for n in range(count):
        jobs.put(rt.store.patient_id(phone(n)), wake, due - timedelta(minutes=5))


def memory(rt: Runtime, count: int, due: datetime, sample: int = 200) -> dict[str, float]:
    """Bytes per patient: own keys by MEMORY USAGE, shared hashes/sets divided by the count."""
    r = rt.redis
    shared = [keys.APS_JOBS, keys.APS_RUN_TIMES, keys.PATIENT_IDS, keys.PATIENT_PHONES,
              keys.PATIENTS]  # fmt: skip
    per_shared = {k: (r.memory_usage(k, samples=0) or 0) / count for k in shared}
    day = due.astimezone(ZoneInfo(noon_zone(due))).date().isoformat()
    own = marks = outbox = held = 0.0
    for n in range(sample):
        pid = rt.store.patient_id(phone(n))
        message_id = f"reminder:{pid}:{day}:reminder:0"
        own += r.memory_usage(keys.patient(phone(n)), samples=0) or 0
        sid = r.get(keys.outbox_sent(message_id))
        per_day = {
            "marks": [keys.reminder_sent(pid, day, "reminder"), keys.outbox_enqueued(message_id)],
            "outbox": [keys.outbox_sent(message_id), *([keys.delivery(sid)] if sid else [])],
        }
        for group, names in per_day.items():
            for name in names:
                size = r.memory_usage(name, samples=0) or 0
                marks += size if group == "marks" else 0
                outbox += size if group == "outbox" else 0
                # A daily plan holds one copy of each per-day key for every day of its TTL.
                held += size * max(r.ttl(name), 0) / 86400
    durable = own / sample + sum(per_shared.values())
    steady = durable + held / sample
    return {"patient_doc": own / sample, **per_shared, "durable_per_patient": durable,
            "per_reminder_marks": marks / sample, "per_reminder_outbox_records": outbox / sample,
            "steady_state_with_ttls": steady}  # fmt: skip


def fake_twilio(record: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests.fake_twilio", "--port", str(port),
                             "--record", str(record)], cwd=ROOT)  # fmt: skip
    time.sleep(1.0)
    return proc, f"http://127.0.0.1:{port}"


def config_without_rate(tmp: Path) -> Path:
    """The clinic config with the send rate lifted (the fake API has no limit)."""
    target = tmp / "config"
    shutil.copytree(ROOT / "config", target)
    clinic = target / "clinic.yaml"
    text = clinic.read_text(encoding="utf-8")
    clinic.write_text(text.replace("send_rate_per_second: 1", "send_rate_per_second: 100000"))
    return target


def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-reminders-"))
    record = tmp / "sent.jsonl"
    with RedisServer() as server:
        settings = replace(Settings(), redis_url=server.url)
        rt = build(settings)
        base = int(rt.redis.info("memory")["used_memory"])
        # The next whole minute at least 25 s away (seeding 10,000 takes about 10 s).
        soon = datetime.now(UTC) + timedelta(seconds=25 + 60)
        due = soon.replace(second=0, microsecond=0)
        started = time.monotonic()
        seed(rt, args.patients, due)
        seeded = time.monotonic() - started
        enrolled_memory = (int(rt.redis.info("memory")["used_memory"]) - base) / args.patients
        twilio, url = fake_twilio(record)
        env = {**os.environ, "REDIS_URL": server.url, "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
               "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_FROM_NUMBER": "+19495550000",
               "TWILIO_API_BASE_URL": url, "BOT_CONFIG_DIR": str(config_without_rate(tmp))}  # fmt: skip
        workers = [subprocess.Popen([sys.executable, "-m", "bot", "worker"], env=env, cwd=ROOT,
                                    stderr=subprocess.DEVNULL) for _ in range(args.workers)]  # fmt: skip
        try:
            print(
                f"seeded {args.patients} in {seeded:.1f} s; due at {due:%H:%M:%S} UTC", flush=True
            )
            sent = wait_for_sends(record, args.patients, due, timeout=args.timeout)
        finally:
            for w in workers:
                w.terminate()
            for w in workers:
                w.wait(15)
            twilio.terminate()
            twilio.wait(5)
        result = summarize(sent, due, args)
        result["memory"] = memory(rt, args.patients, due)
        result["memory"]["used_memory_delta_per_enrolled"] = enrolled_memory
        result["seed_seconds"] = round(seeded, 1)
    shutil.rmtree(tmp, ignore_errors=True)
    return result


def wait_for_sends(
    record: Path, count: int, due: datetime, *, timeout: float
) -> list[dict[str, Any]]:
    deadline = due.timestamp() + timeout
    lines: list[str] = []
    while time.time() < deadline:
        lines = record.read_text(encoding="utf-8").splitlines() if record.exists() else []
        if len(lines) >= count:
            time.sleep(2.0)  # let duplicates, if any, arrive
            break
        time.sleep(0.5)
    return [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]


def summarize(
    sent: list[dict[str, Any]], due: datetime, args: argparse.Namespace
) -> dict[str, Any]:
    late = sorted(m["time"] - due.timestamp() for m in sent)
    unique = len({m["to"] for m in sent})
    pct = statistics.quantiles(late, n=100) if len(late) > 1 else late * 99
    return {
        "patients": args.patients, "workers": args.workers, "handed_to_sdk": len(sent),
        "unique_numbers": unique, "duplicates": len(sent) - unique,
        "last_handed_after_due_s": round(late[-1], 2) if late else None,
        "lateness_p50_s": round(pct[49], 2) if late else None,
        "lateness_p99_s": round(pct[98], 2) if late else None,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=300.0)
    print(json.dumps(run(parser.parse_args()), indent=2))


if __name__ == "__main__":
    main()
