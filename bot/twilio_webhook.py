"""Twilio webhooks: signature check with the SDK's RequestValidator, TwiML replies."""

from __future__ import annotations

import functools
import hmac
import logging
import re
import urllib.parse
from collections.abc import Callable
from datetime import datetime

import phonenumbers
from flask import Blueprint, Response, abort, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from bot.core.model import Inbound
from bot.privacy import mask
from bot.service import Handled
from bot.settings import Settings
from bot.whatsapp import quick_reply

log = logging.getLogger(__name__)
MAX_BODY = 1600
MAX_FIELDS = 1000  # Twilio sends about 20


def signed_url(settings: Settings) -> str:
    """The URL Twilio signed: PUBLIC_BASE_URL + path (+ query), or the request's own URL."""
    if settings.public_base_url:
        query = request.query_string.decode()
        return f"{settings.public_base_url}{request.path}" + (f"?{query}" if query else "")
    return request.url


def form_fields() -> dict[str, str]:
    """Twilio's form fields, the first value of each; parsed directly (a third of werkzeug's
    cost, which builds a MultiDict and a stream parser for every request)."""
    if request.mimetype != "application/x-www-form-urlencoded":
        return {}
    try:
        pairs = urllib.parse.parse_qsl(request.get_data(as_text=True), keep_blank_values=True,
                                       max_num_fields=MAX_FIELDS)  # fmt: skip
    except ValueError:
        abort(413)
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def signature_ok(settings: Settings, params: dict[str, str]) -> bool:
    token = settings.twilio_auth_token
    if not token:
        return settings.embedded  # embedded dev mode accepts unsigned local requests
    validator = RequestValidator(token)
    url, signature = signed_url(settings), request.headers.get("X-Twilio-Signature", "")
    # The exact URL first: one HMAC instead of validate()'s two (with and without a port).
    exact = validator.compute_signature(url, params)
    return hmac.compare_digest(exact.encode(), signature.encode()) or bool(
        validator.validate(url, params, signature)
    )


# A North American number in E.164, as Twilio sends it, comes out of phonenumbers unchanged
# (tests/test_webhook.py checks that property); every other form is parsed.
_NANP_E164 = re.compile(r"\+1[2-9][0-9]{9}")  # ASCII digits only: "\d" takes any script's


def sender_of(raw: str) -> tuple[str, str] | None:
    """('+15551234567', 'sms'|'whatsapp') from Twilio's From, or None when unusable."""
    channel = "whatsapp" if raw.startswith("whatsapp:") else "sms"
    number = raw.removeprefix("whatsapp:").strip()
    if _NANP_E164.fullmatch(number):
        return number, channel
    return _parsed(number, channel)


@functools.lru_cache(maxsize=1024)  # phonenumbers.parse costs more than the rest of a request
def _parsed(number: str, channel: str) -> tuple[str, str] | None:
    if number[:1].isdigit():  # "+1949..." form-encoded by hand without escaping: "+" became " "
        number = f"+{number}"
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), channel


# Characters XML 1.0 cannot carry even escaped; one in a reply would make Twilio reject the TwiML.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def twiml(replies: list[str]) -> Response:
    return Response(_twiml_text(tuple(replies)), mimetype="application/xml")


@functools.lru_cache(maxsize=512)  # most answers are the same few prompts: build each once
def _twiml_text(replies: tuple[str, ...]) -> str:
    response = MessagingResponse()
    for text in replies:
        response.message(_NOT_XML.sub("", text))
    return str(response)


Handler = Callable[[str, Inbound, datetime, str | None], Handled]


StatusHandler = Callable[[str, str, int | None, str], None]


def impersonates_staff(raw_from: str, phone: str, staff: frozenset[str]) -> bool:
    """Staff are recognised by the exact SMS sender only: a WhatsApp sender, an extension or
    any other spelling that merely parses to a staff number is not that staff member."""
    return phone in staff and raw_from != phone


def blueprint(handle: Handler, on_status: StatusHandler, settings: Settings,
              clock: Callable[[], datetime], staff: frozenset[str] = frozenset()) -> Blueprint:  # fmt: skip
    bp = Blueprint("twilio", __name__)

    def signed_form(what: str) -> dict[str, str]:
        """The request's form fields, or 403 when Twilio did not sign them."""
        form = form_fields()
        if not signature_ok(settings, form):
            log.warning("refused an unsigned or forged %s", what)
            abort(403)
        return form

    @bp.post("/twilio/sms")
    def inbound() -> Response:
        form = signed_form("webhook request")
        sender = sender_of(form.get("From", ""))
        if sender is None:
            return twiml([])
        phone, channel = sender
        if impersonates_staff(form.get("From", ""), phone, staff):
            log.warning("ignored a %s message whose sender only resembles staff %s", channel,
                        mask(phone))  # fmt: skip
            return twiml([])
        body = (quick_reply(form) or form.get("Body", ""))[:MAX_BODY]
        try:
            media = int(form.get("NumMedia", "0") or 0)
        except ValueError:
            media = 0
        sid = form.get("MessageSid") or form.get("SmsSid") or None
        handled = handle(phone, Inbound(body, channel, media), clock(), sid)
        if log.isEnabledFor(logging.DEBUG):  # per message: at INFO it would cost more than TwiML
            log.debug("inbound %s from %s: %d replies", channel, mask(phone), len(handled.replies))
        return twiml(handled.replies)

    @bp.post("/twilio/status")
    def status() -> Response:
        form = signed_form("status callback")
        sid = form.get("MessageSid") or form.get("SmsSid") or ""
        state = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
        code = form.get("ErrorCode", "")
        if sid and state:
            on_status(sid, state, int(code) if code.isdigit() else None, form.get("To", ""))
        return Response("", status=204)

    return bp
