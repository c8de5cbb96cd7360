"""gunicorn hooks for `web` (`--config python:bot.gunicorn_conf`): a stalled request body frees
its thread after BODY_TIMEOUT seconds instead of holding it forever."""

from __future__ import annotations

from typing import Any

BODY_TIMEOUT = 5.0  # seconds a client may pause while sending a request body (Twilio: never)


def pre_request(worker: Any, req: Any) -> None:
    """gthread waits in its poller for a client that sends nothing, but once the headers are
    in, the body is read with a blocking socket; give that read a deadline."""
    sock = getattr(getattr(req, "unreader", None), "sock", None)
    if sock is not None:
        sock.settimeout(BODY_TIMEOUT)
