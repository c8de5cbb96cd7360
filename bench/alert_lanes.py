"""An SMS emergency behind a flood of web emergencies: how long until its alert is handed over.

Run: `.venv/bin/python bench/alert_lanes.py [--web 200] [--code DIR]` (needs redis-server). The
same scenario as the bounded load test in tests/test_web_alert_caps.py, measured: real Redis, a
worker thread sending at the real 1 msg/s, `--web` web-chat sessions (from many addresses) typing
an emergency, then one patient texting an emergency. Prints the time from that webhook to the
alert handed to the sender, and how many staff SMS went out before it. `--code DIR` measures
another checkout too (a baseline), each in its own process; a run gives up after `--limit` s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PATIENT = "+19495551777"


def scenario(web: int, limit: float) -> dict[str, Any]:
    from bot.background import Background
    from bot.config import load_config
    from bot.runtime import build, system_clock
    from bot.settings import Settings
    from bot.twilio_sender import SendResult
    from bot.web import create_app
    from tests.conftest import PUBLIC, TOKEN, Phone
    from tests.redis_server import RedisServer
    from tests.test_web_chat import Visitor

    handed: list[tuple[float, str, str]] = []

    class Twilio:
        def send(self, to: str, body: str) -> SendResult:
            time.sleep(0.05)
            handed.append((time.monotonic(), to, body))
            return SendResult(f"SM{len(handed):032d}")

        def find_sent(self, to: str, body: str, since: float) -> str | None:
            return None

    with RedisServer() as server:
        settings = Settings(redis_url=server.url, twilio_account_sid="AC" + "0" * 32,
                            twilio_auth_token=TOKEN, twilio_from_number="+19495550000",
                            public_base_url=PUBLIC)  # fmt: skip
        rt = build(replace(settings), client=server.client(decode_responses=True),
                   clock=system_clock, config=load_config(Path.cwd() / "config"))  # fmt: skip
        background = Background.for_sender(rt, Twilio(), rate=1.0)
        stop = threading.Event()
        worker = threading.Thread(target=background.consumer.run_forever, args=(stop,))
        worker.start()
        try:
            app = create_app(rt.settings, runtime=rt)
            for n in range(web):
                Visitor(app, ip=f"203.0.113.{n % 250}").send("chest pain, can't breathe")
            started = time.monotonic()
            Phone(app.test_client(), PATIENT).send("I have crushing chest pain")
            while time.monotonic() < started + limit and not [
                b for _, _, b in handed if PATIENT in b
            ]:
                time.sleep(0.02)
        finally:
            stop.set()
            worker.join(10)
    times = [t for t, _, body in handed if PATIENT in body]
    first = min(times) if times else None
    ahead = len([1 for t, _, b in handed if first is None or t < first])
    return {"seconds": None if first is None else round(first - started, 2), "ahead": ahead}


def measure(code: Path, web: int, limit: float) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": f"{code}{os.pathsep}{ROOT}"}
    out = subprocess.run([sys.executable, __file__, "--inner", "--web", str(web), "--limit",
                          str(limit)], cwd=code, env=env, capture_output=True, text=True,
                         check=True)  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--web", type=int, default=200)
    parser.add_argument("--limit", type=float, default=60.0)
    parser.add_argument("--code", type=Path, default=None)
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        sys.path.insert(0, os.getcwd())
        print(json.dumps(scenario(args.web, args.limit)))
        return 0
    runs = {**({"baseline": args.code} if args.code else {}), "this tree": ROOT}
    print("| | SMS emergency alert handed to the sender | staff SMS sent before it |")
    print("|---|---|---|")
    for name, code in runs.items():
        result = measure(code, args.web, args.limit)
        seconds = (
            f"{result['seconds']} s" if result["seconds"] is not None else f"> {args.limit:g} s"
        )
        print(f"| {name} | {seconds} | {result['ahead']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
