"""Webhook throughput and latency under gunicorn with real Redis, against an empty-TwiML floor.

Run: `.venv/bin/python bench/bench_webhook.py [--seconds 10] [--rounds 3]` (needs
redis-server and wrk: `apt-get install wrk`). Every request is validly signed (signatures are
precomputed), From numbers vary so the questionnaire advances for thousands of patients, and
each MessageSid is unique. Prints a Markdown table; targets: >= 50% of the floor, p99 < 20 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import answers_with  # noqa: E402
from tests.redis_server import RedisServer, free_port  # noqa: E402

TOKEN = "bench-auth-token-0123456789abcdef"
PUBLIC = "https://bench.example.com"
CLINIC = "+19495550000"
LUA = """
-- Thread t sends lines offset+t, offset+t+T, ...: in order, and never the same line twice.
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
local lines, n, i, stride = {}, 0, 0, 1
function init(args)
  for line in io.lines(args[1]) do
    n = n + 1
    lines[n] = line
  end
  i = tonumber(args[2]) + id
  stride = tonumber(args[3])
  pause = tonumber(args[4])
end
function delay()
  return pause  -- ms between requests on each connection: 0 = flat out
end
function request()
  local line = lines[i % n + 1]
  i = i + stride
  local tab = string.find(line, "\\t")
  local headers = {["X-Twilio-Signature"] = string.sub(line, 1, tab - 1),
                   ["Content-Type"] = "application/x-www-form-urlencoded"}
  return wrk.format("POST", "/twilio/sms", headers, string.sub(line, tab + 1))
end
"""


# The same answers as people also type them: free text the understanding step reads with the
# clinical NLP (the menu answers above never reach it).
FREE_TEXT = {
    "hi": "hi, my knee hurts when I run, can you help?", "yes": "yes please, let's start",
    "0": "0, none of those thankfully", "34": "I'm 34", "no": "no, it came on slowly",
    "1": "1, around the kneecap mostly", "2": "about a 2 right now", "3": "3 on most runs",
    "L 8 R 12": "L 8 R 12, measured it twice", "7am": "7am works for me",
}  # fmt: skip


def requests_file(path: Path, patients: int, free_share: float = 0.3) -> int:
    """Signed bodies, round-robin over patients so one patient's messages are far apart.

    `free_share` of the messages are the same answer typed as free text (FREE_TEXT)."""
    validator = RequestValidator(TOKEN)
    script = ["hi", *(text for _, text in answers_with()), "7am"]
    count = 0
    with path.open("w") as out:
        for step, menu_text in enumerate(script):
            for p in range(patients):
                free = (p * 7 + step * 13) % 100 < free_share * 100 and menu_text in FREE_TEXT
                text = FREE_TEXT[menu_text] if free else menu_text
                params = {"MessageSid": f"SM{step:02d}{p:06d}{'0' * 24}", "From": f"+1949{p:07d}",
                          "To": CLINIC, "Body": text, "NumMedia": "0",
                          "AccountSid": "AC" + "0" * 32}  # fmt: skip
                signature = validator.compute_signature(f"{PUBLIC}/twilio/sms", params)
                out.write(f"{signature}\t{urllib.parse.urlencode(params)}\n")
                count += 1
    return count


def gunicorn(app: str, port: int, env: dict[str, str], workers: int, threads: int) -> subprocess.Popen[bytes]:  # fmt: skip
    command = [str(ROOT / ".venv/bin/gunicorn"), "-w", str(workers), "--threads", str(threads),
               "-b", f"127.0.0.1:{port}", "--log-level", "warning", app]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except urllib.error.HTTPError:
            return process  # the floor has no /healthz: a 404 means it is up
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn {app} did not start")


def wrk(port: int, lua: Path, data: Path, offset: int, seconds: int, connections: int,
        pause_ms: int = 0) -> dict[str, float]:  # fmt: skip
    command = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency",
               "-s", str(lua), f"http://127.0.0.1:{port}", "--", str(data), str(offset), "2",
               str(pause_ms)]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "p99": _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "requests": float(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "errors": float(errors.group(1)) if errors else 0.0,
    }


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(15)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (Linux /proc)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def workers_of(process: subprocess.Popen[bytes]) -> list[int]:
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    return [int(pid) for pid in children]


class Target:
    """One gunicorn app under load; each run goes on where the previous one stopped."""

    def __init__(self, name: str, app: str, env: dict[str, str], args: argparse.Namespace,
                 redis_pid: int) -> None:  # fmt: skip
        self.name, self.args, self.redis_pid = name, args, redis_pid
        self.port = free_port()
        self.process = gunicorn(app, self.port, env, args.workers, args.threads)
        self.offset = 0

    def run(self, lua: Path, data: Path, seconds: int, pause_ms: int = 0) -> dict[str, float]:
        workers = workers_of(self.process)
        before = cpu_seconds(workers), cpu_seconds([self.redis_pid])
        result = wrk(self.port, lua, data, self.offset, seconds, self.args.connections, pause_ms)
        after = cpu_seconds(workers), cpu_seconds([self.redis_pid])
        self.offset += int(result["requests"]) + 2
        done = max(result["requests"], 1.0)
        result["app_cpu_ms"] = (after[0] - before[0]) / done * 1000
        result["redis_cpu_ms"] = (after[1] - before[1]) / done * 1000
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="per run")
    parser.add_argument("--rounds", type=int, default=3, help="floor and webhook alternate")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--patients", type=int, default=8000)
    parser.add_argument("--pause-ms", type=int, default=250, help="per connection, paced runs")
    parser.add_argument(
        "--free-text",
        type=float,
        default=0.3,
        help="share of messages typed as free text (0 = menu answers only)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="bench-webhook-"))
    data, lua = work / "requests.tsv", work / "signed.lua"
    lua.write_text(LUA)
    total = requests_file(data, args.patients, args.free_text)
    runs: dict[str, list[dict[str, float]]] = {}
    with RedisServer(args=("--save", "", "--appendonly", "yes")) as redis_server:
        env = {**os.environ, "REDIS_URL": redis_server.url, "TWILIO_AUTH_TOKEN": TOKEN,
               "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_FROM_NUMBER": CLINIC,
               "PUBLIC_BASE_URL": PUBLIC, "BOT_SPOOL_DIR": str(work / "spool"),
               "BOT_SECRET_KEY": "bench"}  # fmt: skip
        redis_pid = redis_server.process.pid
        targets = [Target("floor", "bench.floor_app:app", env, args, redis_pid),
                   Target("webhook", "bot.wsgi:app", env, args, redis_pid)]  # fmt: skip
        try:
            for target in targets:
                target.run(lua, data, 2)  # warm-up: imports, connections, caches
            # Alternating rounds: this host's speed drifts by tens of percent from minute to
            # minute, and each round's ratio compares runs taken seconds apart.
            for n in range(args.rounds):
                for target in targets:
                    runs.setdefault(target.name, []).append(target.run(lua, data, args.seconds))
                print(f"round {n + 1}/{args.rounds}: " + ", ".join(
                    f"{name} {rs[-1]['rps']:.0f} req/s" for name, rs in runs.items()),
                    file=sys.stderr, flush=True)  # fmt: skip
            # Paced, latency is the service time a patient waits for; flat out it is
            # queueing (Little's law: 50 connections / throughput).
            for target in targets:
                runs[f"{target.name} paced"] = [target.run(lua, data, args.seconds, args.pause_ms)]
        finally:
            for target in targets:
                stop(target.process)
        answered = redis_server.client().scard("bot:patients")
    report(args, runs, total, int(answered))
    shutil.rmtree(work, ignore_errors=True)


def median(values: list[float]) -> float:
    return statistics.median(values)


def report(args: argparse.Namespace, runs: dict[str, list[dict[str, float]]], total: int,
           patients: int) -> None:  # fmt: skip
    ratios = [h["rps"] / f["rps"] for f, h in zip(runs["floor"], runs["webhook"], strict=True)]
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"gunicorn -w {args.workers} --threads {args.threads}; wrk -t 2 -c {args.connections} "
          f"-d {args.seconds}s x {args.rounds} alternating rounds; {total} distinct signed "
          f"requests ({args.free_text:.0%} free text); {patients} patients stored")  # fmt: skip
    print("| endpoint | req/s (median) | p50 ms | p99 ms | app CPU ms/req | Redis CPU ms/req "
          "| requests | non-2xx |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for name, results in runs.items():
        row = {k: median([r[k] for r in results]) for k in results[0]}
        count = sum(r["requests"] for r in results)
        errors = sum(r["errors"] for r in results)
        print(f"| {name} | {row['rps']:.0f} | {row['p50']:.2f} | {row['p99']:.2f} | "
              f"{row['app_cpu_ms']:.3f} | {row['redis_cpu_ms']:.3f} | {count:.0f} | {errors:.0f} |")  # fmt: skip
    paced = runs["webhook paced"][0]
    print(f"ratio webhook/floor per round: {', '.join(f'{r:.0%}' for r in ratios)}; median "
          f"{median(ratios):.0%} (target >= 50%)")  # fmt: skip
    print(f"p99: flat out {median([r['p99'] for r in runs['webhook']]):.1f} ms, paced at "
          f"{paced['rps']:.0f} req/s {paced['p99']:.1f} ms (target < 20 ms)")  # fmt: skip


if __name__ == "__main__":
    main()
