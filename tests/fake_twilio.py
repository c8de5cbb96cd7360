"""A small fake of Twilio's Messages REST API, in a thread or as a process, with faults; it keeps
WhatsApp's 24-hour rule (63016 for free-form outside the window) and sends Content templates."""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import random
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "fake-auth-token"
_PREFIX = "/2010-04-01/Accounts/"
WINDOW = 24 * 3600.0  # WhatsApp's customer service window after the person's last message
OUTSIDE_WINDOW = 63016


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # test output stays readable; the fake records requests itself


@dataclass(frozen=True)
class FakeMessage:
    sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    status_callback: str | None
    time: float
    content_sid: str | None = None
    content_variables: str | None = None
    status: str = "queued"
    error_code: int | None = None

    def resource(self, account_sid: str) -> dict[str, Any]:
        stamp = format_datetime(datetime.fromtimestamp(self.time, UTC), usegmt=True)
        return {
            "sid": self.sid, "account_sid": account_sid, "to": self.to, "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid, "body": self.body,
            "status": self.status, "direction": "outbound-api", "num_segments": "1",
            "date_created": stamp, "date_updated": stamp, "date_sent": stamp,
            "error_code": self.error_code, "error_message": None, "api_version": "2010-04-01",
            "uri": f"{_PREFIX}{account_sid}/Messages/{self.sid}.json",
        }  # fmt: skip


@dataclass
class _Fault:
    """status > 0: refuse with that HTTP status; "drop": accept, then cut the connection with no
    answer; "slow": accept, then answer after `seconds` (past the client's timeout)."""

    status: int
    code: int | None
    kind: str = "error"
    seconds: float = 0.0


@dataclass(frozen=True)
class Chaos:
    """Random faults on a share of sends, for the chaos run: split evenly between a 500 or 429
    before accepting, accept-then-drop, and accept-then-answer-late."""

    rate: float
    seed: int = 0
    slow_seconds: float = 6.0

    def pick(self, rand: random.Random) -> _Fault | None:
        if rand.random() >= self.rate:
            return None
        return rand.choice([_Fault(500, 20500), _Fault(429, 20429), _Fault(0, None, "drop"),
                            _Fault(0, None, "slow", self.slow_seconds)])  # fmt: skip


class FakeTwilio:
    """The fake API in a thread; `record` appends one JSON line per accepted message."""

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN,
                 *, port: int = 0, record: Path | None = None) -> None:  # fmt: skip
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.record = record
        self.messages: list[FakeMessage] = []
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, basic-auth user
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._per_number: dict[str, _Fault] = {}
        self._delay = 0.0
        self._list_faults = 0
        self._chaos: Chaos | None = None
        self._rand = random.Random(0)
        self.injected: dict[str, int] = {}  # fault kind -> how many were injected
        # WhatsApp: when each person last wrote (the window), the approved templates by SID,
        # and how a free-form send outside the window fails: "rest" answers 400 with 63016;
        # "callback" accepts it and fails it afterwards, as a status callback would report.
        self.clock: Callable[[], float] = time.time
        self.window_refusal = "rest"
        self.contents: dict[str, str] = {}
        self._last_inbound: dict[str, float] = {}
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---
    def start(self) -> FakeTwilio:
        self._server = make_server(
            "127.0.0.1", self._port, self._app, threaded=True, request_handler=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_port}"

    # --- programmable faults ---
    def fail_next(self, n: int, status: int = 500, code: int | None = None) -> None:
        with self._lock:
            self._faults.extend(_Fault(status, code) for _ in range(n))

    def fail_for(self, number: str, status: int = 400, code: int = 21610) -> None:
        with self._lock:
            self._per_number[number] = _Fault(status, code)

    def drop_next(self, n: int = 1) -> None:
        """Accept the next n messages, then drop the connection without answering."""
        with self._lock:
            self._faults.extend(_Fault(0, None, "drop") for _ in range(n))

    def slow_next(self, n: int, seconds: float) -> None:
        """Accept the next n messages, then answer only after `seconds`."""
        with self._lock:
            self._faults.extend(_Fault(0, None, "slow", seconds) for _ in range(n))

    def fail_lists(self, n: int) -> None:
        """The next n look-ups (GET Messages.json) answer 503."""
        with self._lock:
            self._list_faults += n

    def chaos(self, chaos: Chaos | None) -> None:
        with self._lock:
            self._chaos = chaos
            self._rand = random.Random(chaos.seed if chaos else 0)

    def delay(self, seconds: float) -> None:
        """Answer POSTs late, after the message was accepted: the ambiguous send."""
        self._delay = seconds

    # --- WhatsApp ---
    def inbound(self, number: str) -> None:
        """The person wrote to the WhatsApp sender now: the 24-hour window opens."""
        with self._lock:
            self._last_inbound[_whatsapp(number)] = self.clock()

    def approve(self, content_sid: str, body: str) -> None:
        """A Content template WhatsApp approved: `body` with {{1}}-style placeholders."""
        self.contents[content_sid] = body

    def window_open(self, to: str) -> bool:
        last = self._last_inbound.get(to)
        return last is not None and self.clock() - last < WINDOW

    def refused(self) -> list[FakeMessage]:
        """Messages accepted and then failed as outside the window ("callback" mode)."""
        with self._lock:
            return [m for m in self.messages if m.error_code == OUTSIDE_WINDOW]

    # --- inspection ---
    def count_to(self, number: str) -> int:
        with self._lock:
            return sum(1 for m in self.messages if m.to == number and m.error_code is None)

    def bodies_to(self, number: str) -> list[str]:
        with self._lock:
            return [m.body for m in self.messages if m.to == number and m.error_code is None]

    # --- the WSGI app ---
    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        user = self._auth_user(request)
        with self._lock:
            self.requests.append((request.method, request.path, user))
        response = self._route(request, user)
        return response(environ, start_response)

    def _auth_user(self, request: Request) -> str | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user if password == self.auth_token else None

    def _route(self, request: Request, user: str | None) -> Response:
        base = f"{_PREFIX}{self.account_sid}/Messages"
        if request.path == "/fake/stats":  # for the chaos run: what was accepted and injected
            with self._lock:
                return _json(200, {"accepted": len(self.messages), "injected": self.injected})
        if not request.path.startswith(_PREFIX):
            return _error(404, 20404, "The requested resource was not found")
        if user != self.account_sid or not request.path.startswith(base):
            return _error(401, 20003, "Authenticate")
        if request.path == f"{base}.json" and request.method == "POST":
            return self._create(request)
        if request.path == f"{base}.json" and request.method == "GET":
            return self._list(request)
        if request.path.startswith(f"{base}/") and request.method == "GET":
            return self._fetch(request.path[len(base) + 1 :].removesuffix(".json"))
        return _error(404, 20404, "The requested resource was not found")

    def _create(self, request: Request) -> Response:
        form = request.form
        to, body = form.get("To"), form.get("Body")
        sender, service = form.get("From"), form.get("MessagingServiceSid")
        content_sid, variables = form.get("ContentSid"), form.get("ContentVariables")
        if not to or (body is None and not content_sid) or not (sender or service):
            return _error(400, 21604, "A 'To', 'Body' and 'From' or service are required")
        fault = self._take_fault(to)
        if fault is not None and fault.kind == "error":
            return _error(fault.status, fault.code, f"Fake failure {fault.code}")
        error = None
        if content_sid:
            if content_sid not in self.contents:
                return _error(400, 21655, "The ContentSid is Invalid")
            body = _fill(self.contents[content_sid], json.loads(variables or "{}"))
        elif to.startswith("whatsapp:") and not self.window_open(to):
            if self.window_refusal == "rest":
                return _error(400, OUTSIDE_WINDOW, "Outside the allowed window: use a template")
            error = OUTSIDE_WINDOW
        message = FakeMessage("SM" + secrets.token_hex(16), to, sender, service, body or "",
                              form.get("StatusCallback"), self.clock(), content_sid, variables,
                              "failed" if error else "queued", error)  # fmt: skip
        with self._lock:
            self.messages.append(message)
            if self.record is not None:
                with self.record.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(asdict(message)) + "\n")
        if fault is not None and fault.kind == "drop":
            _drop_connection(request)
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.seconds)
        if self._delay:
            time.sleep(self._delay)
        return _json(201, message.resource(self.account_sid))

    def _take_fault(self, to: str) -> _Fault | None:
        with self._lock:
            fault = self._faults.pop(0) if self._faults else self._per_number.get(to)
            if fault is None and self._chaos is not None:
                fault = self._chaos.pick(self._rand)
            if fault is not None:
                name = fault.kind if fault.kind != "error" else str(fault.status)
                self.injected[name] = self.injected.get(name, 0) + 1
            return fault

    def _list(self, request: Request) -> Response:
        """Newest first, in pages of PageSize (50 by default) with Twilio's next_page_uri."""
        with self._lock:
            if self._list_faults:
                self._list_faults -= 1
                return _error(503, 20503, "Fake look-up failure")
        to = request.args.get("To")
        after = _parse_date(request.args.get("DateSent>"))
        with self._lock:
            found = [
                m for m in reversed(self.messages)
                if (to is None or m.to == to) and (after is None or m.time >= after)
            ]  # fmt: skip
        size = int(request.args.get("PageSize", "50"))
        page = int(request.args.get("Page", "0"))
        chunk = found[page * size : (page + 1) * size]
        uri = f"{_PREFIX}{self.account_sid}/Messages.json"
        more = (page + 1) * size < len(found)
        query = {k: v for k, v in request.args.items() if k not in ("Page", "PageToken")}
        next_uri = f"{uri}?{urlencode({**query, 'Page': page + 1, 'PageToken': f'PT{page + 1}'})}"
        payload = {
            "messages": [m.resource(self.account_sid) for m in chunk],
            "end": page * size + len(chunk) - 1, "first_page_uri": uri,
            "next_page_uri": next_uri if more else None, "page": page, "page_size": size,
            "previous_page_uri": None, "start": page * size, "uri": uri,
        }  # fmt: skip
        return _json(200, payload)

    def _fetch(self, sid: str) -> Response:
        with self._lock:
            found = [m for m in self.messages if m.sid == sid]
        if not found:
            return _error(404, 20404, "The requested resource was not found")
        return _json(200, found[0].resource(self.account_sid))


def _drop_connection(request: Request) -> None:
    """Cut the client off after the message was accepted: it never learns the outcome."""
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _whatsapp(number: str) -> str:
    return number if number.startswith("whatsapp:") else f"whatsapp:{number}"


def _fill(body: str, variables: dict[str, str]) -> str:
    """A Content template's body with its {{1}}-style placeholders filled in."""
    return re.sub(
        r"\{\{\s*(\w+)\s*\}\}", lambda m: str(variables.get(m.group(1), m.group(0))), body
    )


def _parse_date(value: str | None) -> float | None:
    """Twilio takes YYYY-MM-DD; the SDK sends YYYY-MM-DDTHH:MM:SSZ."""
    if not value:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    return None


def _json(status: int, payload: dict[str, Any]) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json")


def _error(status: int, code: int | None, message: str) -> Response:
    more = f"https://www.twilio.com/docs/errors/{code}" if code else None
    body = {"code": code, "message": message, "more_info": more, "status": status}
    return _json(status, body)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--record", type=Path, default=None)
    parser.add_argument("--account-sid", default=ACCOUNT_SID)
    parser.add_argument("--auth-token", default=AUTH_TOKEN)
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of sends to fault")
    parser.add_argument("--slow-seconds", type=float, default=6.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    fake = FakeTwilio(args.account_sid, args.auth_token, port=args.port, record=args.record)
    if args.fault_rate:
        fake.chaos(Chaos(args.fault_rate, args.seed, args.slow_seconds))
    fake.start()
    print(f"fake twilio listening on {fake.base_url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
