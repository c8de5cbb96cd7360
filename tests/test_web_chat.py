"""The web chat's page and JSON API through Flask's test client: session, CSRF, limits, transcript."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import fakeredis

from bot import keys
from bot.config import Config
from bot.runtime import Runtime, build
from bot.settings import ROOT, Settings
from bot.web import create_app
from bot.web_chat import MAX_TEXT, Limits, web_patient
from tests.conftest import Clock

MESSAGE = "/chat/api/message"
HISTORY = "/chat/api/history"


class Visitor:
    """A person in the web chat: one browser session (cookie) and its CSRF token."""

    def __init__(self, app: Any, ip: str = "203.0.113.7") -> None:
        self.client = app.test_client()
        self.secret = str(app.config["SECRET_KEY"])
        self.client.environ_base["REMOTE_ADDR"] = ip
        self.csrf = self.client.get(HISTORY).json["csrf"]
        self.sent = 0
        self.status = 0
        self.json: dict[str, Any] = {}

    def post(self, text: str, message_id: str | None = None, csrf: str | None = "") -> Any:
        self.sent += 1
        token = self.csrf if csrf == "" else csrf
        headers = {} if token is None else {"X-CSRF-Token": token}
        body = {"text": text, "id": message_id or f"m{self.sent}"}
        response = self.client.post(MESSAGE, json=body, headers=headers)
        self.status, self.json = response.status_code, response.get_json(silent=True) or {}
        return response

    def send(self, text: str, message_id: str | None = None) -> list[str]:
        self.post(text, message_id)
        assert self.status == 200, self.json
        replies: list[str] = self.json["replies"]
        return replies

    @property
    def chat_id(self) -> str:
        with self.client.session_transaction() as session:
            return str(session["chat"])

    @property
    def patient_id(self) -> str:
        return web_patient(self.secret, self.chat_id)

    def history(self) -> list[dict[str, str]]:
        messages: list[dict[str, str]] = self.client.get(HISTORY).json["messages"]
        return messages


def test_the_page_names_the_clinic_and_is_accessible(app: Any) -> None:
    response = app.test_client().get("/chat")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "Impact Physical Therapy and Performance" in page
    assert 'href="tel:+19494091339"' in page and "(949) 409-1339" in page
    assert 'Not medical advice. In an emergency call <a href="tel:911">911</a>.' in page
    assert '<label for="msg"' in page and f'maxlength="{MAX_TEXT}"' in page
    assert 'role="log"' in page and 'aria-live="polite"' in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # no CDN, no external fonts
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "<script>" not in page  # no inline script: the CSP forbids it


def test_static_files_are_served_and_never_use_inner_html(app: Any) -> None:
    client = app.test_client()
    js = client.get("/chat/static/chat.js")
    css = client.get("/chat/static/chat.css")
    assert js.status_code == 200 and css.status_code == 200
    source = js.get_data(as_text=True)
    assert "innerHTML" not in source and "insertAdjacentHTML" not in source
    assert "textContent" in source
    js.close()
    css.close()


def test_a_conversation_uses_the_same_engine_with_a_web_patient_key(
    app: Any, runtime: Runtime
) -> None:
    visitor = Visitor(app)
    replies = visitor.send("hi")
    assert "Impact Physical Therapy and Performance" in replies[0]
    assert "Y or N" in replies[-1]
    assert "chest pain" in visitor.send("yes")[0]
    patient = runtime.store.load(visitor.patient_id)
    assert patient.conversation.channel == "web"
    assert visitor.patient_id.startswith("web:") and len(visitor.chat_id) >= 20


def test_the_session_cookie_is_signed_http_only_and_same_site(app: Any) -> None:
    response = app.test_client().get(HISTORY)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert response.headers["Cache-Control"] == "no-store"


def test_the_cookie_is_secure_in_production(settings: Settings, runtime: Runtime) -> None:
    production = dataclasses.replace(settings, production=True)
    app = create_app(production, runtime=dataclasses.replace(runtime, settings=production))
    cookie = app.test_client().get(HISTORY).headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_missing_or_wrong_csrf_gets_403_and_changes_nothing(app: Any, runtime: Runtime) -> None:
    visitor = Visitor(app)
    for token in (None, "forged-token"):
        response = visitor.post("hi", csrf=token)
        assert response.status_code == 403
        assert visitor.json["error"] == "csrf" and "Reload the page" in visitor.json["message"]
    stranger = app.test_client().post(MESSAGE, json={"text": "hi", "id": "m1"})
    assert stranger.status_code == 403 and stranger.json["error"] == "csrf"
    assert visitor.history() == []
    assert runtime.redis.keys(keys.patient("*")) == []
    assert runtime.redis.keys(f"{keys.PREFIX}web:*") == []


def test_the_session_rate_limit_answers_429_with_a_message(app: Any, clock: Clock) -> None:
    visitor = Visitor(app)
    for n in range(Limits().per_session):
        visitor.post(f"hello {n}")
        assert visitor.status == 200
    response = visitor.post("one more")
    assert response.status_code == 429 and visitor.json["error"] == "rate_limited"
    assert "too quickly" in visitor.json["message"]
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert Visitor(app).post("hi").status_code == 200  # another session is not held up
    clock.advance(seconds=61)
    assert visitor.post("later").status_code == 200


def test_the_ip_rate_limit_covers_every_session_from_one_address(app: Any) -> None:
    limits = Limits()
    for _ in range(limits.per_ip // limits.per_session):
        visitor = Visitor(app)
        for n in range(limits.per_session):
            assert visitor.post(f"hello {n}").status_code == 200
    assert Visitor(app).post("hi").status_code == 429
    assert Visitor(app, ip="198.51.100.9").post("hi").status_code == 200


def test_too_long_messages_are_refused_with_a_message(app: Any) -> None:
    visitor = Visitor(app)
    response = visitor.post("x" * (MAX_TEXT + 1))
    assert response.status_code == 413 and visitor.json["error"] == "too_long"
    assert f"{MAX_TEXT} characters" in visitor.json["message"]
    assert visitor.history() == []
    huge = visitor.client.post(MESSAGE, data="x" * 100_000, content_type="application/json",
                               headers={"X-CSRF-Token": visitor.csrf})  # fmt: skip
    assert huge.status_code == 413 and huge.json["error"] == "too_long"
    assert visitor.post("y" * MAX_TEXT).status_code == 200


def test_malformed_bodies_get_400_with_a_message(app: Any) -> None:
    visitor = Visitor(app)
    headers = {"X-CSRF-Token": visitor.csrf}
    for body in ({"text": "hi"}, {"text": 5, "id": "a"}, {"text": "hi", "id": "../x"}, [1]):
        response = visitor.client.post(MESSAGE, json=body, headers=headers)
        assert response.status_code == 400 and response.json["error"] == "bad_request"
    not_json = visitor.client.post(MESSAGE, data="text=hi", headers=headers)
    assert not_json.status_code == 400 and "JSON" in not_json.json["message"]


def test_a_retried_message_id_is_processed_once(app: Any, runtime: Runtime) -> None:
    visitor = Visitor(app)
    visitor.send("hi", "first")
    consent = visitor.send("yes", "second")
    again = visitor.send("yes", "second")
    assert again == consent and visitor.json["duplicate"] is True
    assert [m["text"] for m in visitor.history() if m["from"] == "you"] == ["hi", "yes"]
    assert "How old are you" in visitor.send("0", "third")[0]  # one step on, not two
    other = Visitor(app)
    assert other.send("hi", "first") and other.json["duplicate"] is False  # ids are per session


def test_the_transcript_survives_a_reload_and_is_capped_with_a_ttl(
    app: Any, runtime: Runtime
) -> None:
    visitor = Visitor(app)
    said = []
    for text in ("hi", "yes"):
        replies = visitor.send(text)
        said += [{"from": "you", "text": text}] + [{"from": "bot", "text": r} for r in replies]
    assert visitor.history() == said
    key = keys.web_transcript(visitor.patient_id)
    assert 0 < runtime.redis.ttl(key) <= 24 * 3600
    assert visitor.client.get(HISTORY).json["csrf"] == visitor.csrf  # same session, same token


def test_forget_deletes_the_web_transcript(app: Any, runtime: Runtime) -> None:
    visitor = Visitor(app)
    visitor.send("hi")
    runtime.store.forget(visitor.patient_id)
    assert not runtime.redis.exists(keys.web_transcript(visitor.patient_id))


def test_html_is_never_echoed_into_the_page(app: Any) -> None:
    visitor = Visitor(app)
    payload = "<script>window.__xss=1</script>"
    visitor.send(payload)
    page = visitor.client.get("/chat").get_data(as_text=True)
    assert "__xss" not in page
    response = visitor.client.get(HISTORY)
    assert response.mimetype == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # Stored and returned as text; the page shows it with textContent.
    assert response.json["messages"][0]["text"] == payload


def test_clinic_content_is_escaped_in_the_template(
    settings: Settings, config: Config, clock: Clock, redis_client: Any, tmp_path: Path
) -> None:
    clinic = config.clinic.model_copy(update={"name": '<b onclick="x()">Evil & Co</b>'})
    rt = build(settings, client=redis_client, clock=clock,
               config=dataclasses.replace(config, clinic=clinic))  # fmt: skip
    page = create_app(settings, runtime=rt).test_client().get("/chat").get_data(as_text=True)
    assert "<b onclick" not in page
    assert "&lt;b onclick=&#34;x()&#34;&gt;Evil &amp; Co&lt;/b&gt;" in page
    assert (ROOT / "templates" / "web" / "chat.html").read_text().count("|safe") == 0


def test_a_store_outage_gets_503_with_a_message(
    settings: Settings, config: Config, clock: Clock
) -> None:
    server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=server, decode_responses=True)
    rt = build(settings, client=client, clock=clock, config=config)
    visitor = Visitor(create_app(settings, runtime=rt))
    server.connected = False
    response = visitor.post("hi")
    assert response.status_code == 503 and visitor.json["error"] == "unavailable"
    assert "(949) 409-1339" in visitor.json["message"]
