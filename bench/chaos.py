"""Chaos run: every owed SMS accepted exactly once while workers die and Redis restarts.

Run: `make chaos` or `.venv/bin/python bench/chaos.py [--people 150] [--code DIR]` (needs
redis-server). Starts, on 127.0.0.1 only: a durable redis-server, the fake Twilio API as its
own process failing, timing out or accepting-then-dropping `--fault-rate` of sends, gunicorn
with three web workers, and three `bot worker`s. `--people` phones text at once (emergencies,
CALL requests, questionnaires; staff ACK alerts as they come in) while the run kills workers with
kill -9 (bot workers and a web worker) and restarts Redis twice. At the end it checks, from
Redis and the fake's record: every message enqueued was accepted by Twilio exactly once, every
emergency and CALL texted reached staff, no webhook answered 5xx. `--code DIR` runs the bot from
another checkout (a baseline) with the same fake and traffic. Prints a Markdown table; exit 1 on
a failure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN  # noqa: E402
from tests.redis_server import RedisServer, free_port, wait_for  # noqa: E402

PUBLIC = "https://chaos.example.com"
CLINIC = "+19495550000"
ON_CALL = ("+19495550101", "+19495550102")
DURABLE = ("--save", "", "--appendonly", "yes", "--appendfsync", "always")
EMERGENCY = "I have chest pain and I can't breathe"


class Stack:
    """The processes under test, each restartable; logs under `work`."""

    def __init__(self, work: Path, code: Path, fault_rate: float) -> None:
        self.work, self.code = work, code
        self.redis = RedisServer(args=DURABLE)
        self.api_port, self.web_port = free_port(), free_port()
        self.record = work / "accepted.jsonl"
        self.fake = self._spawn("fake", [sys.executable, "-m", "tests.fake_twilio", "--port",
                                         str(self.api_port), "--record", str(self.record),
                                         "--fault-rate", str(fault_rate), "--slow-seconds", "6"],
                                cwd=ROOT)  # fmt: skip
        self.workers: list[subprocess.Popen[bytes]] = []
        self.web: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        config = self.work / "config"
        if not config.exists():
            shutil.copytree(self.code / "config", config)
            clinic = config / "clinic.yaml"
            clinic.write_text(clinic.read_text().replace("send_rate_per_second: 1",
                                                         "send_rate_per_second: 10"))  # fmt: skip
        return {**os.environ, "REDIS_URL": self.redis.url, "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_FROM_NUMBER": CLINIC,
                "TWILIO_API_BASE_URL": f"http://127.0.0.1:{self.api_port}",
                "PUBLIC_BASE_URL": PUBLIC, "BOT_CONFIG_DIR": str(config),
                "BOT_SECRET_KEY": "chaos-secret", "BOT_CLAIM_IDLE_MS": "5000",
                "BOT_SPOOL_DIR": str(self.work / "spool"), "PYTHONPATH": str(self.code)}  # fmt: skip

    def _spawn(self, name: str, command: list[str], cwd: Path,
               env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:  # fmt: skip
        out = (self.work / f"{name}.log").open("ab")
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)

    def start(self) -> None:
        self.redis.start()
        wait_for(lambda: _get(f"http://127.0.0.1:{self.api_port}/fake/stats") is not None, 10)
        self.web = self._spawn("web", [sys.executable, "-m", "gunicorn", "--bind",
                                       f"127.0.0.1:{self.web_port}", "--workers", "3",
                                       "--timeout", "30", "bot.wsgi:app"], self.code, self.env())  # fmt: skip
        for n in range(3):
            self.workers.append(self.start_worker(n))
        wait_for(lambda: _get(f"http://127.0.0.1:{self.web_port}/healthz") is not None, 30)

    def start_worker(self, n: int) -> subprocess.Popen[bytes]:
        return self._spawn(f"worker{n}", [sys.executable, "-m", "bot", "worker"], self.code,
                           self.env())  # fmt: skip

    def kill_worker(self, n: int) -> None:
        os.kill(self.workers[n].pid, signal.SIGKILL)
        self.workers[n].wait(10)
        self.workers[n] = self.start_worker(n)

    def kill_web_worker(self) -> None:
        """kill -9 one gunicorn worker; the arbiter starts another."""
        assert self.web is not None
        children = subprocess.run(["pgrep", "-P", str(self.web.pid)], capture_output=True,
                                  text=True, check=False).stdout.split()  # fmt: skip
        if children:
            os.kill(int(children[0]), signal.SIGKILL)

    def restart_redis(self) -> None:
        self.redis.stop()  # SIGTERM: Redis writes its AOF and exits
        time.sleep(1.0)
        self.redis.start()

    def stop(self) -> None:
        for process in [*self.workers, *([self.web] if self.web else []), self.fake]:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
        self.redis.close()


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return bytes(answer.read())
    except (urllib.error.URLError, OSError):
        return None


class Phones:
    """People texting through the signed webhook; every answer's status is counted."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/twilio/sms"
        self.validator = RequestValidator(AUTH_TOKEN)
        self.statuses: Counter[int] = Counter()
        self.lock = threading.Lock()
        self.sids = 0

    def text(self, number: str, body: str) -> None:
        with self.lock:
            self.sids += 1
            sid = f"SMchaos{self.sids:026d}"
        params = {"MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": number, "To": CLINIC,
                  "Body": body, "NumMedia": "0"}  # fmt: skip
        signature = self.validator.compute_signature(f"{PUBLIC}/twilio/sms", params)
        data = urllib.parse.urlencode(params).encode()
        for _ in range(20):  # like Twilio, only a refused connection is tried again
            request = urllib.request.Request(self.url, data=data,
                                             headers={"X-Twilio-Signature": signature})  # fmt: skip
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    self._count(answer.status)
                    return
            except urllib.error.HTTPError as err:
                self._count(err.code)
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        self._count(0)

    def _count(self, status: int) -> None:
        with self.lock:
            self.statuses[status] += 1


def person(phones: Phones, number: str, kind: str, rand: random.Random) -> None:
    script = {"emergency": ["hi", EMERGENCY], "callback": ["hi", "CALL"],
              "questionnaire": ["hi", "yes", "0", "34", "no", "0", "0", "1", "2"]}[kind]  # fmt: skip
    time.sleep(rand.uniform(0.0, 40.0))  # arrivals spread over the faults
    for body in script:
        time.sleep(rand.uniform(0.0, 2.0))
        phones.text(number, body)


def staff_acks(phones: Phones, record: Path, stop: threading.Event) -> int:
    """Staff claim every other alert as it arrives (claim notices and patient notices follow)."""
    acked: set[str] = set()
    while not stop.wait(3.0):
        for line in record.read_text().splitlines() if record.exists() else []:
            body = json.loads(line)["body"]
            if " alert " in body and "Reply ACK" in body:
                ref = body.split("Reply ACK ")[1].split()[0]
                if ref not in acked and hash(ref) % 2 == 0:
                    acked.add(ref)
                    phones.text(ON_CALL[1], f"ACK {ref}")
    return len(acked)


def chaos_schedule(stack: Stack, log: list[str]) -> None:
    steps = [(8, "kill -9 bot worker 0", lambda: stack.kill_worker(0)),
             (15, "kill -9 a web worker", stack.kill_web_worker),
             (22, "restart Redis", stack.restart_redis),
             (30, "kill -9 bot worker 1", lambda: stack.kill_worker(1)),
             (38, "restart Redis", stack.restart_redis),
             (45, "kill -9 bot worker 2 and a web worker",
              lambda: (stack.kill_worker(2), stack.kill_web_worker()))]  # fmt: skip
    started = time.monotonic()
    for at, what, action in steps:
        time.sleep(max(0.0, started + at - time.monotonic()))
        action()
        log.append(f"{time.monotonic() - started:5.1f}s {what}")


def settled(client: Any, spool: Path) -> bool:
    """Nothing waiting in any outbox lane, the delayed set or the web workers' spool."""
    lanes = [k for k in client.scan_iter("bot:outbox*") if client.type(k) == b"stream"]
    waiting = sum(int(client.xlen(k)) for k in lanes if not k.endswith(b":dead"))
    spooled = [p for p in spool.rglob("*.json")] if spool.exists() else []
    return waiting == 0 and not client.zcard("bot:outbox:delayed") and not spooled


def verify(client: Any, record: Path, alerting: list[str]) -> dict[str, Any]:
    """Owed (enqueued) vs accepted by the fake: each once, none lost, none extra."""
    owed = [
        k.decode().removeprefix("bot:outbox:enq:") for k in client.scan_iter("bot:outbox:enq:*")
    ]
    sent = {m: client.get(f"bot:outbox:sent:{m}") for m in owed}
    dead = [f for _, f in client.xrange("bot:outbox:dead")]
    dead_ids = {f[b"id"].decode() for f in dead if b"id" in f}
    accepted = [json.loads(line) for line in record.read_text().splitlines() if line]
    by_sid = {a["sid"]: a for a in accepted}
    marked = {s.decode() for s in sent.values() if s}
    unsent = [m for m, s in sent.items() if not s and m not in dead_ids]
    extra = [a for a in accepted if a["sid"] not in marked]
    per_message = Counter((a["to"], a["body"]) for a in accepted)
    owed_pairs = Counter((by_sid[s]["to"], by_sid[s]["body"]) for s in marked if s in by_sid)
    duplicates = sum(
        n - owed_pairs.get(pair, 0)
        for pair, n in per_message.items()
        if n > owed_pairs.get(pair, 0)
    )
    reached = [p for p in alerting if any(p in a["body"] and a["to"] in ON_CALL for a in accepted)]
    return {"owed": len(owed), "accepted": len(accepted), "unsent": len(unsent),
            "dead": len(dead_ids), "extra_accepted": len(extra), "duplicates": duplicates,
            "alerting_texts": len(alerting), "alerts_reaching_staff": len(reached),
            "marked_not_accepted": len(marked - set(by_sid))}  # fmt: skip


def run(
    code: Path, people: int, fault_rate: float, seed: int, drain_limit: float
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="chaos-"))
    stack = Stack(work, code, fault_rate)
    rand = random.Random(seed)
    log: list[str] = []
    try:
        stack.start()
        phones = Phones(stack.web_port)
        kinds = ["emergency", "callback", "questionnaire"]
        crowd = [(f"+1949560{n:04d}", kinds[n % 3]) for n in range(people)]
        started = time.monotonic()
        stop = threading.Event()
        acks = threading.Thread(target=staff_acks, args=(phones, stack.record, stop), daemon=True)
        acks.start()
        chaos = threading.Thread(target=chaos_schedule, args=(stack, log))
        chaos.start()
        threads = [threading.Thread(target=person, args=(phones, n, k, random.Random(rand.random())))
                   for n, k in crowd]  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        chaos.join()
        time.sleep(4.0)  # the last ACKs
        stop.set()
        client = stack.redis.client()
        drained_at = wait_until(lambda: settled(client, work / "spool"), drain_limit)
        time.sleep(8.0)  # anything a stale claim could still re-send would show by now
        alerting = [n for n, k in crowd if k in ("emergency", "callback")]
        result = verify(client, stack.record, alerting)
        stats = json.loads(_get(f"http://127.0.0.1:{stack.api_port}/fake/stats") or b"{}")
        result.update({"seconds": round(time.monotonic() - started), "drained": drained_at,
                       "webhook_statuses": dict(phones.statuses), "faults": stats.get("injected", {}),
                       "events": log, "logs": str(work)})  # fmt: skip
        return result
    finally:
        stack.stop()


def wait_until(condition: Any, limit: float) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except Exception:  # Redis may be between restarts
            pass
        time.sleep(1.0)
    return False


def passed(result: dict[str, Any]) -> bool:
    five_xx = sum(n for s, n in result["webhook_statuses"].items() if int(s) >= 500 or int(s) == 0)
    return (result["drained"] and result["unsent"] == 0 and result["duplicates"] == 0
            and result["extra_accepted"] == 0 and five_xx == 0
            and result["alerts_reaching_staff"] == result["alerting_texts"])  # fmt: skip


def table(results: dict[str, dict[str, Any]]) -> str:
    rows = ["owed", "accepted", "unsent", "dead", "duplicates", "extra_accepted",
            "alerting_texts", "alerts_reaching_staff", "drained", "seconds"]  # fmt: skip
    names = list(results)
    out = ["| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for row in rows:
        out.append(f"| {row} | " + " | ".join(str(results[n][row]) for n in names) + " |")
    for row in ("webhook_statuses", "faults"):
        out.append(f"| {row} | " + " | ".join(json.dumps(results[n][row]) for n in names) + " |")
    out.append(
        "| verdict | " + " | ".join("pass" if passed(results[n]) else "FAIL" for n in names) + " |"
    )
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=150)
    parser.add_argument("--fault-rate", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--drain-limit", type=float, default=180.0)
    parser.add_argument("--code", type=Path, default=None, help="also run this checkout (baseline)")
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    if args.code:
        results["baseline"] = run(
            args.code, args.people, args.fault_rate, args.seed, args.drain_limit
        )
    results["this tree"] = run(ROOT, args.people, args.fault_rate, args.seed, args.drain_limit)
    print(table(results))
    for name, result in results.items():
        print(f"\n{name}: " + "; ".join(result["events"]) + f" (logs: {result['logs']})")
    return 0 if passed(results["this tree"]) else 1


if __name__ == "__main__":
    sys.exit(main())
