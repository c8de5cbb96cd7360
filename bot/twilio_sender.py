"""The sender port (Sender, SendResult) and its adapters: Twilio's official SDK and the console."""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from urllib3.exceptions import NewConnectionError

from bot.errors import BotError
from bot.privacy import mask

log = logging.getLogger(__name__)

OPTED_OUT = 21610
UNREACHABLE_CODES = frozenset({21211, 21614})
_TWILIO_HOST = re.compile(r"^https://(?:[A-Za-z0-9-]+\.)*twilio\.com(?=/|$)")


class TransientSendError(BotError):
    """Twilio never took the message (429, 5xx, refused connection): it may be sent again."""


class AmbiguousSendError(BotError):
    """The request may have reached Twilio (a timeout, a dropped connection): the outcome is
    unknown, so the message must be looked up before it is ever sent again."""


@dataclass(frozen=True)
class SendResult:
    sid: str | None
    error_code: int | None = None
    permanent: bool = False

    @property
    def reason(self) -> str | None:
        """Why a permanent failure happened, in words the outbox and logs use."""
        if not self.permanent:
            return None
        if self.error_code == OPTED_OUT:
            return "opted_out"
        return "unreachable" if self.error_code in UNREACHABLE_CODES else "rejected"


class Sender(Protocol):
    def send(self, to: str, body: str) -> SendResult: ...

    def find_sent(self, to: str, body: str, since: float) -> str | None: ...


class BaseUrlHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """The SDK's own HTTP client, with https://*.twilio.com swapped for another base URL."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        rewritten = _TWILIO_HOST.sub(self.base_url, url, count=1)
        return super().request(method, rewritten, *args, **kwargs)


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str
    auth_token: str
    from_number: str | None = None
    messaging_service_sid: str | None = None
    api_base_url: str | None = None
    status_callback: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TwilioSettings:
        public = env.get("PUBLIC_BASE_URL", "").rstrip("/")
        return cls(
            account_sid=env["TWILIO_ACCOUNT_SID"],
            auth_token=env["TWILIO_AUTH_TOKEN"],
            from_number=env.get("TWILIO_FROM_NUMBER") or None,
            messaging_service_sid=env.get("TWILIO_MESSAGING_SERVICE_SID") or None,
            api_base_url=env.get("TWILIO_API_BASE_URL") or None,
            status_callback=f"{public}/twilio/status" if public else None,
        )


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    timeout: float = 5.0  # per HTTP call; attempts x timeout stays under the outbox claim time

    def backoff(self, attempt: int, rand: Callable[[], float]) -> float:
        """Full jitter: a random wait up to the capped exponential step."""
        return rand() * min(self.max_delay, self.base_delay * 2.0**attempt)


class TwilioSender:
    """Sends through `twilio.rest.Client`, built lazily on first use, with retries."""

    def __init__(self, settings: TwilioSettings, *, policy: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 rand: Callable[[], float] = random.random) -> None:  # fmt: skip
        if not (settings.from_number or settings.messaging_service_sid):
            raise BotError("set TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID")
        self.settings = settings
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._rand = rand
        self._client: Client | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Client:
        with self._lock:
            if self._client is None:
                self._client = self._build_client()
            return self._client

    def _build_client(self) -> Client:
        s = self.settings
        if s.api_base_url:
            http: TwilioHttpClient = BaseUrlHttpClient(s.api_base_url, timeout=self.policy.timeout)
        else:
            http = TwilioHttpClient(timeout=self.policy.timeout)
        return Client(s.account_sid, s.auth_token, http_client=http)

    def send(self, to: str, body: str) -> SendResult:
        return self._send(to, {"body": body})

    def send_content(self, to: str, content: str, body: str) -> SendResult:
        """An approved WhatsApp template: `content` is {"sid", "vars"} as JSON; `body` is the
        text it becomes (what reconciling looks for in Twilio's message log)."""
        parsed = json.loads(content)
        fields = {"content_sid": str(parsed["sid"]),
                  "content_variables": json.dumps(parsed.get("vars") or {})}  # fmt: skip
        return self._send(to, fields)

    def _send(self, to: str, fields: dict[str, str]) -> SendResult:
        """Send once. Retried here only while Twilio provably never got the request (a 429 or
        5xx answer, a refused connection); anything else that fails is AmbiguousSendError, for
        the outbox to reconcile later: never POSTed again blindly."""
        for attempt in range(self.policy.max_attempts):
            try:
                return self._attempt(to, fields)
            except TransientSendError as exc:
                log.warning("send to %s failed (attempt %d): %s", mask(to), attempt + 1, exc)
                if attempt + 1 == self.policy.max_attempts:
                    raise
                self._sleep(self.policy.backoff(attempt, self._rand))
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(self, to: str, fields: dict[str, str]) -> SendResult:
        s = self.settings
        sender: dict[str, str] = (
            {"from_": whatsapp_from(s.from_number, to)} if s.from_number
            else {"messaging_service_sid": s.messaging_service_sid or ""}
        )  # fmt: skip
        if s.status_callback:
            sender["status_callback"] = s.status_callback
        try:
            message = self.client.messages.create(to=to, **fields, **sender)
        except TwilioRestException as exc:
            return _classify(exc.status, exc.code)
        except requests.RequestException as exc:
            if never_reached(exc):
                raise TransientSendError(type(exc).__name__) from exc
            raise AmbiguousSendError(type(exc).__name__) from exc
        except TwilioException as exc:  # e.g. an answer that is not JSON: it may have been sent
            raise AmbiguousSendError(type(exc).__name__) from exc
        log.info("sent to %s: %s", mask(to), message.sid)
        return SendResult(str(message.sid))

    def find_sent(self, to: str, body: str, since: float) -> str | None:
        """The SID of a message with this body sent to `to` at or after `since`, if any. Pages
        back (newest first) until messages are older than `since`, however many there are."""
        since_dt = datetime.fromtimestamp(since, UTC).replace(microsecond=0)
        # Twilio filters DateSent by day; the exact cut-off is applied here.
        day = since_dt.replace(hour=0, minute=0, second=0) - timedelta(days=1)
        try:
            for message in self.client.messages.stream(to=to, date_sent_after=day, page_size=100):
                created = message.date_created or message.date_sent
                if created is not None and created < since_dt:
                    return None  # newest first: everything further is older still
                refused = str(message.status) in ("failed", "undelivered")  # e.g. WhatsApp 63016
                if message.body == body and created is not None and not refused:
                    return str(message.sid)
        except TwilioRestException as exc:
            raise TransientSendError(f"look-up failed: {exc.status} {exc.code}") from exc
        except (requests.RequestException, TwilioException) as exc:
            raise TransientSendError(f"look-up failed: {type(exc).__name__}") from exc
        return None


def never_reached(exc: requests.RequestException) -> bool:
    """True only when the request provably never got to Twilio: the connection was refused or
    could not be opened. A read timeout or a dropped connection may follow an accepted send."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError):
        return False
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
    return isinstance(reason, NewConnectionError | ConnectionRefusedError)


def _classify(status: int, code: int | None) -> SendResult:
    if status == 429 or status >= 500:
        raise TransientSendError(f"HTTP {status} (code {code})")
    return SendResult(None, code, permanent=True)


def whatsapp_from(from_number: str, to: str) -> str:
    """WhatsApp messages must come from the whatsapp: form of the sender number."""
    if to.startswith("whatsapp:") and not from_number.startswith("whatsapp:"):
        return f"whatsapp:{from_number}"
    return from_number


class ConsoleSender:
    """Embedded mode: print the message for the developer instead of sending it."""

    def __init__(self, out: Callable[[str], None] = print) -> None:
        self._out = out
        self._count = 0
        self._lock = threading.Lock()

    def send(self, to: str, body: str) -> SendResult:
        with self._lock:
            self._count += 1
            sid = f"SMconsole{self._count:023d}"
        self._out(f"[SMS to {mask(to)}] {body}")
        return SendResult(sid)

    def find_sent(self, to: str, body: str, since: float) -> str | None:
        return None
