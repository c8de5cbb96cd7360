"""Webhook throughput and latency under gunicorn with real Redis, against an empty-TwiML floor.

Run: `.venv/bin/python bench/bench_webhook.py [--seconds 20] [--connections 50]` (needs
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


def requests_file(path: Path, patients: int) -> int:
    """Signed bodies, round-robin over patients so one patient's messages are far apart."""
    validator = RequestValidator(TOKEN)
    script = ["hi", *(text for _, text in answers_with()), "7am"]
    count = 0
    with path.open("w") as out:
        for step, text in enumerate(script):
            for p in range(patients):
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--patients", type=int, default=8000)
    parser.add_argument("--pause-ms", type=int, default=250, help="per connection, paced runs")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="bench-webhook-"))
    data, lua = work / "requests.tsv", work / "signed.lua"
    lua.write_text(LUA)
    total = requests_file(data, args.patients)
    results: dict[str, dict[str, float]] = {}
    with RedisServer(args=("--save", "", "--appendonly", "yes")) as redis_server:
        env = {**os.environ, "REDIS_URL": redis_server.url, "TWILIO_AUTH_TOKEN": TOKEN,
               "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_FROM_NUMBER": CLINIC,
               "PUBLIC_BASE_URL": PUBLIC, "BOT_SPOOL_DIR": str(work / "spool"),
               "BOT_SECRET_KEY": "bench"}  # fmt: skip
        for name, app in (("floor", "bench.floor_app:app"), ("webhook", "bot.wsgi:app")):
            port = free_port()
            process = gunicorn(app, port, env, args.workers, args.threads)
            try:
                warm = wrk(port, lua, data, 0, 2, args.connections)
                offset = int(warm["requests"]) + 2  # go on where the warm-up stopped
                results[name] = wrk(port, lua, data, offset, args.seconds, args.connections)
                # Flat out, latency is queueing (Little's law: 50 connections / throughput);
                # paced, it is the service time a patient actually waits for.
                offset += int(results[name]["requests"]) + 2
                results[f"{name} paced"] = wrk(port, lua, data, offset, args.seconds,
                                               args.connections, args.pause_ms)  # fmt: skip
            finally:
                stop(process)
        answered = redis_server.client().scard("bot:patients")
    report(args, results, total, int(answered))
    shutil.rmtree(work, ignore_errors=True)


def report(args: argparse.Namespace, results: dict[str, dict[str, float]], total: int,
           patients: int) -> None:  # fmt: skip
    floor, hook = results["floor"], results["webhook"]
    ratio = hook["rps"] / floor["rps"]
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"gunicorn -w {args.workers} --threads {args.threads}; wrk -t 2 -c {args.connections} "
          f"-d {args.seconds}s; {total} distinct signed requests; {patients} patients stored")  # fmt: skip
    print("| endpoint | req/s | p50 ms | p99 ms | requests | non-2xx |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
              f"{r['requests']:.0f} | {r['errors']:.0f} |")  # fmt: skip
    paced = results["webhook paced"]
    print(f"ratio webhook/floor: {ratio:.0%} (target >= 50%); p99 flat out {hook['p99']:.1f} ms, "
          f"paced at {paced['rps']:.0f} req/s {paced['p99']:.1f} ms (target < 20 ms)")  # fmt: skip


if __name__ == "__main__":
    main()
