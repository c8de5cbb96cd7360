"""Every route reviewed: signatures wherever Twilio calls, staff commands only from staff,
no secret in any response or error page, no debugger in production."""

from __future__ import annotations

import logging
from typing import Any

import fakeredis
import pytest
from twilio.request_validator import RequestValidator

from bot import keys
from bot.runtime import Runtime, build
from bot.settings import Settings
from bot.web import create_app
from tests.conftest import PUBLIC, TOKEN, Clock, Phone

STAFF = "+19495550101"


def snapshot(client: Any) -> dict[str, Any]:
    return {key: (client.type(key), client.dump(key)) for key in client.scan_iter("*")}


def status_params(sid: str = "SM" + "a" * 32) -> dict[str, str]:
    return {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30005",
            "To": "+19495551234", "AccountSid": "AC" + "0" * 32}  # fmt: skip


def forgeries(url: str, params: dict[str, str]) -> list[dict[str, str]]:
    """Header sets Twilio never sends: none, empty, junk, wrong token, wrong URL, tampered."""
    good = RequestValidator(TOKEN).compute_signature(url, params)
    return [
        {},
        {"X-Twilio-Signature": ""},
        {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
        {"X-Twilio-Signature": RequestValidator("other-token").compute_signature(url, params)},
        {"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(url + "x", params)},
        {"X-Twilio-Signature": good[:-2] + ("AA" if not good.endswith("AA") else "BB")},
    ]


@pytest.mark.parametrize("route", ["/twilio/sms", "/twilio/status"])
def test_unsigned_or_forged_twilio_requests_get_403_and_change_nothing(
    app: Any, runtime: Runtime, phone: Phone, route: str
) -> None:
    phone.send("hi")
    runtime.redis.hset(keys.delivery("SM" + "a" * 32), mapping={"rank": "3", "status": "sent"})
    before = snapshot(runtime.redis)
    params = phone.params("yes") if route == "/twilio/sms" else status_params()
    for headers in forgeries(f"{PUBLIC}{route}", params):
        response = app.test_client().post(route, data=params, headers=headers, base_url=PUBLIC)
        assert response.status_code == 403, headers
        assert "<Message>" not in response.get_data(as_text=True)
    assert snapshot(runtime.redis) == before


def test_tampering_with_any_signed_field_is_refused(app: Any, phone: Phone) -> None:
    params = phone.params("yes")
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}/twilio/sms", params)
    for field in ("From", "Body", "MessageSid"):
        forged = {**params, field: params[field] + "1"}
        response = phone.post(forged, signature)
        assert response.status_code == 403, field
    assert phone.post({**params, "Extra": "1"}, signature).status_code == 403


@pytest.mark.parametrize("text", ["ACK K7Q2", "OPEN", "LIST", "K7Q2", "ALERTS", "claim K7Q2"])
def test_staff_commands_from_a_patient_get_the_patient_flow(
    app: Any, runtime: Runtime, new_phone: Any, text: str
) -> None:
    patient = new_phone()
    patient.send("hi")
    patient.send("y")
    patient.send("1")  # an emergency: there is now an open alert with a ref and a number
    ref = runtime.alerts.open_refs()[0]
    stranger = new_phone()
    stranger.send(text.replace("K7Q2", ref))
    assert stranger.status == 200
    said = stranger.said
    assert ref not in said and patient.number not in said and patient.number[-4:] not in said
    assert "Impact Physical Therapy" in said  # the greeting: a patient conversation began
    assert runtime.alerts.get(ref)["status"] == "open"  # type: ignore[index]
    staff = Phone(app.test_client(), STAFF)
    staff.send("OPEN")
    assert ref in staff.said  # the same words from staff do reach the staff side


def test_every_route_keeps_secrets_out_of_responses(app: Any, settings: Settings) -> None:
    client = app.test_client()
    secrets = (TOKEN, settings.secret_key)
    for rule in app.url_map.iter_rules():
        path = rule.rule.replace("<path:filename>", "chat.js").replace("<", "").replace(">", "")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method, base_url=PUBLIC, data={"Body": "x"})
            body = response.get_data(as_text=True)
            assert response.status_code < 500, (method, path)
            assert not any(s in body for s in secrets), (method, path)
            assert not any(s in str(response.headers) for s in secrets), (method, path)


class BrokenRedis(fakeredis.FakeRedis):
    """A store that fails in a way the app does not expect, mentioning the secrets."""

    secret = ""
    broken = False

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        if self.broken:
            raise RuntimeError(f"boom token={TOKEN} key={self.secret}")
        return super().execute_command(*args, **kwargs)

    def pipeline(self, *args: Any, **kwargs: Any) -> Any:
        if self.broken:
            raise RuntimeError(f"boom token={TOKEN} key={self.secret}")
        return super().pipeline(*args, **kwargs)


def test_a_500_page_is_generic(settings: Settings, clock: Clock) -> None:
    client = BrokenRedis(decode_responses=True)
    BrokenRedis.secret = settings.secret_key
    app = create_app(settings, runtime=build(settings, client=client, clock=clock))
    client.broken = True
    phone = Phone(app.test_client(), "+19495551234")
    phone.send("hi")
    assert phone.status == 500
    response = phone.post(phone.params("hi"), None)  # unsigned: refused before the store
    assert response.status_code == 403
    params = phone.params("again")
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}/twilio/sms", params)
    page = phone.post(params, signature).get_data(as_text=True)
    assert TOKEN not in page and settings.secret_key not in page
    assert "Traceback" not in page and "boom" not in page and "Werkzeug" not in page


def test_debug_is_off_even_when_the_environment_asks(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, runtime: Runtime
) -> None:
    monkeypatch.setenv("FLASK_DEBUG", "1")
    monkeypatch.setenv("FLASK_ENV", "development")
    app = create_app(settings, runtime=runtime)
    assert app.debug is False and app.config["DEBUG"] is False
    assert app.config["PROPAGATE_EXCEPTIONS"] is False
    assert "DebuggedApplication" not in type(app.wsgi_app).__name__
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        from bot import wsgi  # the gunicorn entry point, built from this test's environment
    finally:
        root.handlers[:], root.level = saved
    assert wsgi.app.debug is False


def test_oversized_requests_are_refused_before_parsing(app: Any, phone: Phone) -> None:
    params = phone.params("x" * 70_000)
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}/twilio/sms", params)
    assert phone.post(params, signature).status_code == 413


def test_production_refuses_to_start_without_a_shared_secret_key() -> None:
    from bot.errors import ConfigError
    from bot.settings import Settings

    with pytest.raises(ConfigError, match="BOT_SECRET_KEY"):
        Settings.from_env({"BOT_ENV": "production", "REDIS_URL": "redis://x"})
    settings = Settings.from_env(
        {"BOT_ENV": "production", "BOT_SECRET_KEY": "k" * 64, "REDIS_URL": "redis://x"}
    )
    assert settings.secret_key == "k" * 64


def test_a_flood_of_form_fields_is_refused_and_changes_nothing(
    app: Any, runtime: Runtime, phone: Phone
) -> None:
    phone.send("hi")
    before = snapshot(runtime.redis)
    params = phone.params("yes", **{f"X{n}": "1" for n in range(1200)})
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}/twilio/sms", params)
    assert phone.post(params, signature).status_code == 413
    assert snapshot(runtime.redis) == before


def test_a_body_that_is_not_a_form_is_not_read_as_one(app: Any, phone: Phone) -> None:
    params = phone.params("hi")
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}/twilio/sms", params)
    body = "&".join(f"{k}={v}" for k, v in params.items())
    response = app.test_client().post("/twilio/sms", data=body, content_type="text/plain",
                                      headers={"X-Twilio-Signature": signature},
                                      base_url=PUBLIC)  # fmt: skip
    assert response.status_code == 403
