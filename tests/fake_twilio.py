"""A small fake of Twilio's Messages REST API, in a thread or as a process, with faults."""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "fake-auth-token"
_PREFIX = "/2010-04-01/Accounts/"


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

    def resource(self, account_sid: str) -> dict[str, Any]:
        stamp = format_datetime(datetime.fromtimestamp(self.time, UTC), usegmt=True)
        return {
            "sid": self.sid, "account_sid": account_sid, "to": self.to, "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid, "body": self.body,
            "status": "queued", "direction": "outbound-api", "num_segments": "1",
            "date_created": stamp, "date_updated": stamp, "date_sent": stamp,
            "error_code": None, "error_message": None, "api_version": "2010-04-01",
            "uri": f"{_PREFIX}{account_sid}/Messages/{self.sid}.json",
        }  # fmt: skip


@dataclass
class _Fault:
    status: int
    code: int | None


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

    def delay(self, seconds: float) -> None:
        """Answer POSTs late, after the message was accepted: the ambiguous send."""
        self._delay = seconds

    # --- inspection ---
    def count_to(self, number: str) -> int:
        with self._lock:
            return sum(1 for m in self.messages if m.to == number)

    def bodies_to(self, number: str) -> list[str]:
        with self._lock:
            return [m.body for m in self.messages if m.to == number]

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
        if not to or body is None or not (sender or service):
            return _error(400, 21604, "A 'To', 'Body' and 'From' or service are required")
        fault = self._take_fault(to)
        if fault is not None:
            return _error(fault.status, fault.code, f"Fake failure {fault.code}")
        message = FakeMessage("SM" + secrets.token_hex(16), to, sender, service, body,
                              form.get("StatusCallback"), time.time())  # fmt: skip
        with self._lock:
            self.messages.append(message)
            if self.record is not None:
                with self.record.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(asdict(message)) + "\n")
        if self._delay:
            time.sleep(self._delay)
        return _json(201, message.resource(self.account_sid))

    def _take_fault(self, to: str) -> _Fault | None:
        with self._lock:
            if self._faults:
                return self._faults.pop(0)
            return self._per_number.get(to)

    def _list(self, request: Request) -> Response:
        to = request.args.get("To")
        after = _parse_date(request.args.get("DateSent>"))
        with self._lock:
            found = [
                m for m in reversed(self.messages)
                if (to is None or m.to == to) and (after is None or m.time >= after)
            ]  # fmt: skip
        size = int(request.args.get("PageSize", "50"))
        uri = f"{_PREFIX}{self.account_sid}/Messages.json"
        payload = {
            "messages": [m.resource(self.account_sid) for m in found[:size]],
            "end": min(size, len(found)) - 1, "first_page_uri": uri, "next_page_uri": None,
            "page": 0, "page_size": size, "previous_page_uri": None, "start": 0, "uri": uri,
        }  # fmt: skip
        return _json(200, payload)

    def _fetch(self, sid: str) -> Response:
        with self._lock:
            found = [m for m in self.messages if m.sid == sid]
        if not found:
            return _error(404, 20404, "The requested resource was not found")
        return _json(200, found[0].resource(self.account_sid))


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
    args = parser.parse_args(argv)
    fake = FakeTwilio(args.account_sid, args.auth_token, port=args.port, record=args.record)
    fake.start()
    print(f"fake twilio listening on {fake.base_url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
