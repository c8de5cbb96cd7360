"""The web chat: the page, its JSON API (session, CSRF, rate limits, transcript), same service."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request, session
from flask.blueprints import BlueprintSetupState
from redis.exceptions import RedisError
from werkzeug.exceptions import RequestEntityTooLarge

from bot import keys, web_trial
from bot.core.model import Inbound
from bot.runtime import Runtime
from bot.store import patient_from_json
from bot.writes import script

log = logging.getLogger(__name__)

MAX_TEXT = 1000  # characters per message; the textbox has the same maxlength
TRANSCRIPT_MAX = 300  # entries kept per chat (a full triage with exercises is ~40)
TRANSCRIPT_BYTES = 64 * 1024  # and bytes: the oldest entries go first (a full triage is ~12 KB)
TRANSCRIPT_TTL = 24 * 3600  # seconds; matches the conversation expiry and the cookie's max age
CSRF_HEADER = "X-CSRF-Token"
TOO_LONG = f"Messages are limited to {MAX_TEXT} characters. Please send a shorter one."
EXPIRED = "This chat session has expired. Reload the page to continue."
_MESSAGE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class Limits:
    """Fixed-window message limits, per browser session and per client IP."""

    per_session: int = 20
    per_ip: int = 60
    window_seconds: int = 60


class Refused(Exception):
    """A request the API turns down with a JSON error."""

    def __init__(self, status: int, code: str, message: str, retry_after: int = 0) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after


def refusal(err: Refused) -> tuple[Response, int]:
    response = jsonify(error=err.code, message=err.message)
    if err.retry_after:
        response.headers["Retry-After"] = str(err.retry_after)
    return response, err.status


def chat_id(create: bool = False) -> str | None:
    """This browser's conversation id and CSRF token, kept in Flask's signed session cookie."""
    if create and not ("chat" in session and "csrf" in session):
        session.permanent = True  # Max-Age = the transcript's life, not the browser's session
        session["chat"] = secrets.token_urlsafe(18)
        session["csrf"] = secrets.token_urlsafe(32)
    value = session.get("chat")
    return value if isinstance(value, str) else None


def web_patient(secret: str, chat: str) -> str:
    """The stored id of a chat: a keyed hash of the cookie's id, so nobody who sees the stored
    id (staff, `bot alerts`, a Redis dump) can present it as a session."""
    digest = hmac.new(secret.encode(), f"web-chat:{chat}".encode(), hashlib.sha256).hexdigest()
    return f"web:{digest[:24]}"


def check_csrf() -> str:
    """The session's chat id when the request carries its CSRF token; Refused (403) otherwise."""
    expected, given = session.get("csrf"), request.headers.get(CSRF_HEADER, "")
    ident = chat_id()
    if not (ident and isinstance(expected, str) and given):
        raise Refused(403, "csrf", EXPIRED)
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise Refused(403, "csrf", EXPIRED)
    return ident


def read_message() -> tuple[str, str]:
    """(text, client message id) from the JSON body; Refused (400/413) when unusable."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Refused(400, "bad_request", 'Send JSON: {"text": ..., "id": ...}.')
    text, message_id = body.get("text"), body.get("id")
    if not isinstance(text, str) or not isinstance(message_id, str):
        raise Refused(400, "bad_request", '"text" and "id" must be strings.')
    if not _MESSAGE_ID.match(message_id):
        raise Refused(400, "bad_request", '"id" must be 1-64 letters, digits, "-" or "_".')
    if len(text) > MAX_TEXT:
        raise Refused(413, "too_long", TOO_LONG)
    return text, message_id


class RateGate:
    """Fixed-window counters in Redis: INCR the window's key, refuse above the limit."""

    def __init__(self, client: Any, limits: Limits) -> None:
        self.redis, self.limits = client, limits

    def check(self, session_id: str, ip: str, now: datetime) -> None:
        window = self.limits.window_seconds
        epoch = int(now.timestamp())
        slot = epoch // window
        for scope, ident, limit in (
            ("session", session_id, self.limits.per_session),
            ("ip", ip, self.limits.per_ip),
        ):
            if self._count(keys.web_rate(scope, ident, slot)) > limit:
                wait = window - epoch % window
                raise Refused(
                    429, "rate_limited",
                    f"You're sending messages too quickly. Please wait {wait} seconds and try again.",
                    retry_after=wait,
                )  # fmt: skip

    def _count(self, key: str) -> int:
        with self.redis.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, self.limits.window_seconds * 2)
            count, _ = pipe.execute()
        return int(count)


class Transcript:
    """What was said in one web chat, so a reload shows it: a capped Redis list with a TTL."""

    def __init__(self, client: Any) -> None:
        self.redis = client

    def read(self, patient_id: str) -> list[dict[str, str]]:
        raw = self.redis.lrange(keys.web_transcript(patient_id), 0, -1)
        return [json.loads(item) for item in raw]

    def add(self, patient_id: str, entries: list[dict[str, str]]) -> None:
        """Append, then drop the oldest entries beyond TRANSCRIPT_MAX or TRANSCRIPT_BYTES."""
        key = keys.web_transcript(patient_id)
        _APPEND([key], [TRANSCRIPT_MAX, TRANSCRIPT_BYTES, TRANSCRIPT_TTL,
                        *(json.dumps(e) for e in entries)], client=self.redis)  # fmt: skip


# Append, then drop the oldest entries beyond the count or the byte budget; one round trip.
_APPEND = script("""
for i = 4, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
local items, total, budget = redis.call('LRANGE', KEYS[1], 0, -1), 0, tonumber(ARGV[2])
local drop = 0
for i = #items, 1, -1 do
  total = total + #items[i]
  if total > budget then drop = i; break end
end
if drop > 0 then redis.call('LTRIM', KEYS[1], drop, -1) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
""")


def too_large(_: RequestEntityTooLarge) -> tuple[Response, int]:
    return refusal(Refused(413, "too_long", TOO_LONG))


def store_down(phone_display: str) -> tuple[Response, int]:
    log.error("web chat: the store is unreachable")
    message = (
        f"The chat is briefly unavailable. Please try again in a minute, or call {phone_display}."
    )
    return refusal(Refused(503, "unavailable", message, retry_after=30))


def configure_cookie(state: BlueprintSetupState, production: bool) -> None:
    # __Host-: the browser accepts it only over HTTPS, for this exact host, on path /, so no
    # sibling subdomain can set or overwrite it. (Plain http on localhost cannot carry it.)
    state.app.config.update(
        SESSION_COOKIE_NAME="__Host-chat" if production else "chat",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=production,
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_DOMAIN=None,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=TRANSCRIPT_TTL),
    )


def secure_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if request.path.startswith("/chat/api/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def visitor_language(rt: Runtime, secret: str) -> str | None:
    """The language a returning visitor's conversation is in, if one is known."""
    ident = chat_id()
    if ident is None:
        return None
    if web_trial.is_trial(session):
        raw = session.get("trial")
        return patient_from_json("web:", raw if isinstance(raw, str) else None, False).lang
    return rt.store.load(web_patient(secret, ident)).lang


def page_language(rt: Runtime, known: str | None) -> str:
    """?lang=es (kept in the session), else the visitor's language once known, else the
    browser's preference among the clinic's languages."""
    offered = rt.config.clinic.languages.offered
    asked = request.args.get("lang", "")
    if asked in offered:
        session["lang"] = asked
        return asked
    chosen = known or session.get("lang")
    if chosen in offered:
        return str(chosen)
    default = rt.config.clinic.languages.default
    best = request.accept_languages.best_match(list(offered)) or default
    if best != default:
        session["lang"] = best  # the page is in it, so the bot answers in it too
    return best


def blueprint(rt: Runtime, *, limits: Limits | None = None) -> Blueprint:
    """GET /chat, GET /chat/api/history, POST /chat/api/message, static files under /chat/static."""
    bp = Blueprint("web_chat", __name__, static_folder="static", static_url_path="/chat/static")
    bp.record_once(lambda state: configure_cookie(state, rt.settings.production))
    bp.after_request(secure_headers)
    bp.register_error_handler(Refused, refusal)
    bp.register_error_handler(RequestEntityTooLarge, too_large)
    bp.register_error_handler(RedisError, lambda _: store_down(rt.config.clinic.phone_display))
    gate, transcript = RateGate(rt.redis, limits or Limits()), Transcript(rt.redis)
    secret = rt.settings.secret_key

    @bp.get("/chat")
    def page() -> str:
        lang = page_language(rt, visitor_language(rt, secret))
        clinic = rt.config.clinic_in(lang)
        name = "chat.html" if lang == clinic.languages.default else f"{lang}/chat.html"
        return render_template(name, clinic=clinic, max_text=MAX_TEXT, lang=lang)

    @bp.get("/chat/api/history")
    def history() -> Response:
        ident = chat_id(create=True)
        if web_trial.is_trial(session):
            messages = web_trial.history(session)
        else:
            messages = transcript.read(web_patient(secret, ident or ""))
        return jsonify(messages=messages, csrf=session["csrf"], max_length=MAX_TEXT)

    @bp.post("/chat/api/message")
    def message() -> Response:
        patient_id = web_patient(secret, check_csrf())
        ip, now = request.remote_addr or "unknown", rt.clock()
        trial = web_trial.is_trial(session)
        gate.check(patient_id, ip, now)  # counters expire within two windows
        text, message_id = read_message()
        lang = session.get("lang")  # the page's language: the bot answers in it
        carried: list[dict[str, str]] = []
        if trial:
            outcome = web_trial.advance(rt, session, patient_id, text, now, lang)
            if outcome.replies is not None:
                return jsonify(replies=outcome.replies, duplicate=False,
                               lang=visitor_language(rt, secret))  # fmt: skip
            carried = outcome.carried
        sid = f"{patient_id}:{message_id}"
        inbound = Inbound(text, "web", lang=lang)
        handled = rt.service.handle_inbound(patient_id, inbound, now, sid, origin=ip)
        if not handled.duplicate:
            said = [
                {"from": "you", "text": text},
                *({"from": "bot", "text": r} for r in handled.replies),
            ]
            transcript.add(patient_id, [*carried, *said])
        log.info("web chat message handled: %d replies", len(handled.replies))
        # The conversation's language now (detected, or switched by ES / EN): the page follows it.
        return jsonify(replies=handled.replies, duplicate=handled.duplicate,
                       lang=visitor_language(rt, secret))  # fmt: skip

    return bp
