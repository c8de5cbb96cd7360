"""Hostile and odd input through the signed webhook, in every questionnaire state: always a 200
with valid TwiML, never a template evaluated, never a corrupted patient document."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from itertools import count

import fakeredis
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

from bot import keys
from bot.config import load_config
from bot.core.model import DECLINED, DONE, REMINDER_OFFER
from bot.runtime import Runtime, build
from bot.settings import ROOT, Settings
from bot.store import patient_from_json
from bot.web import create_app
from tests.conftest import CLINIC_NUMBER, PUBLIC, TOKEN, Clock, Phone, answers_with

STAFF = "+19495550101"
URL = f"{PUBLIC}/twilio/sms"
STANDARD = {"MessageSid", "AccountSid", "From", "To", "Body", "NumMedia"}

# Each state: the messages that lead a fresh number there (the staff number is its own state).
PATH = [text for _, text in answers_with()]
STATES: dict[str, list[str]] = {
    "new": [],
    **{f"q{n}": ["hi", *PATH[:n]] for n in range(len(PATH))},
    "reminder_offer": ["hi", *PATH],
    "plan_time": ["hi", *PATH, "7am"],
    "plan_psfs_score": ["hi", *PATH, "7am", "running 5 miles"],
    "plan_active": ["hi", *PATH, "7am", "skip", "thanks"],
    "plan_declined": ["hi", *PATH, "no"],
    "consent_declined": ["hi", "no"],
    "emergency": ["hi", "yes", "1"],
    "opted_out": ["hi", "yes", "STOP"],
    "staff": [],
}

NASTY = st.sampled_from([
    "{{7*7}}", "{% raw %}", "{% endraw %}", "{{ config }}", "{{ clinic.__class__ }}", "${7*7}",
    "#{7*7}", "<%= 7*7 %>", "<b>bold</b>", "<script>alert(1)</script>", "]]>", "&amp;", "&#0;",
    "<?xml?>", "\x00", "\u202e", "\u200f", "\ufeff", "🏃‍♀️", "🦵🏽", "\r\n", "\t", "\x1b[31m",
    "STOP", "HELP", "yes", "1, 3", "L 9 R 12", "-1", "99999999999999999999", "١٢", "ＹＥＳ",
])  # fmt: skip
ANY_CHAR = st.characters(codec="utf-8")  # controls, NUL, RTL marks, emoji: all but surrogates
BODY = st.one_of(
    st.text(ANY_CHAR, max_size=40),
    st.lists(st.one_of(NASTY, st.text(ANY_CHAR, max_size=5)), max_size=6).map("".join),
    st.builds(lambda s, n: (s * n)[:3000], st.text(ANY_CHAR, min_size=1, max_size=4),
              st.integers(500, 3000)),
)  # fmt: skip
FIELD = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=12)
EXTRA = st.dictionaries(
    st.one_of(st.sampled_from(["NumMedia", "MediaUrl0", "MediaContentType0", "SmsStatus",
                               "OptOutType", "ProfileName", "WaId"]), FIELD).filter(
        lambda k: k not in STANDARD - {"NumMedia"}),
    st.one_of(NASTY, st.text(ANY_CHAR, max_size=30)),
    max_size=4,
)  # fmt: skip


class Fuzzed:
    """One app on fakeredis with a template patient per state; each example gets a copy."""

    def __init__(self) -> None:
        self.settings = Settings(
            redis_url="redis://unused-in-tests", twilio_account_sid="AC" + "0" * 32,
            twilio_auth_token=TOKEN, twilio_from_number=CLINIC_NUMBER, public_base_url=PUBLIC,
            staff_alert_numbers=(STAFF, "+19495550102"),
        )  # fmt: skip
        config = load_config(ROOT / "config")
        self.rt: Runtime = build(self.settings, client=fakeredis.FakeRedis(decode_responses=True),
                                 clock=Clock(), config=config)  # fmt: skip
        self.app = create_app(self.settings, runtime=self.rt)
        self.flow = config.playbook.flow
        self.numbers = (f"+1949556{n:04d}" for n in count())
        self.templates = {name: self._drive(script) for name, script in STATES.items()}
        self.steps = {None, DONE, DECLINED, REMINDER_OFFER, *self.flow.questions}

    def _drive(self, script: list[str]) -> str:
        phone = Phone(self.app.test_client(), next(self.numbers))
        for text in script:
            phone.send(text)
            assert phone.status == 200
        return phone.number

    def fresh(self, state: str) -> str:
        """A new number in `state`, copied from the template (much faster than replaying it)."""
        if state == "staff":
            return STAFF
        number = next(self.numbers)
        patient = self.rt.store.load(self.templates[state])
        pipe = self.rt.redis.pipeline()
        self.rt.store.queue_save(pipe, replace(patient, phone=number))
        pipe.execute()
        return number

    def params(self, number: str, body: str, extra: dict[str, str]) -> dict[str, str]:
        return {**extra, "MessageSid": f"SM{next(self.numbers)[2:]}", "AccountSid": "AC" + "0" * 32,
                "From": number, "To": CLINIC_NUMBER, "Body": body,
                "NumMedia": extra.get("NumMedia", "0")}  # fmt: skip

    def check(self, number: str, body: str, status: int, xml: str) -> None:
        assert status == 200, xml[:300]
        root = ET.fromstring(xml)
        assert root.tag == "Response"
        texts = []
        for child in root:
            assert child.tag == "Message"
            texts.append(child.text or "")
        if "49" not in body:
            assert not any("49" in t.replace("(949)", "").replace("949", "") for t in texts)
        assert not any("{{" in t or "{%" in t for t in texts if "{" not in body)
        self.check_state(number)

    def check_state(self, number: str) -> None:
        raw = self.rt.redis.get(keys.patient(number))
        if number == STAFF:
            assert raw is None  # staff texts never start a patient conversation
            return
        patient = patient_from_json(number, raw, False)
        assert patient.conversation.step in self.steps, patient.conversation.step


@pytest.fixture(scope="module")
def fuzzed() -> Fuzzed:
    return Fuzzed()


def sign(params: dict[str, str]) -> str:
    return str(RequestValidator(TOKEN).compute_signature(URL, params))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(state=st.sampled_from(list(STATES)), body=BODY, extra=EXTRA)
def test_any_body_in_any_state_gets_twiml_through_the_test_client(
    fuzzed: Fuzzed, state: str, body: str, extra: dict[str, str]
) -> None:
    number = fuzzed.fresh(state)
    params = fuzzed.params(number, body, extra)
    response = fuzzed.app.test_client().post(
        "/twilio/sms", data=params, headers={"X-Twilio-Signature": sign(params)},
        base_url=PUBLIC,
    )  # fmt: skip
    fuzzed.check(number, body, response.status_code, response.get_data(as_text=True))


@pytest.fixture(scope="module")
def server(fuzzed: Fuzzed) -> Iterator[str]:
    http = make_server("127.0.0.1", 0, fuzzed.app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_port}"
    finally:
        http.shutdown()
        thread.join(5)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(state=st.sampled_from(list(STATES)), body=BODY, extra=EXTRA)
def test_any_body_in_any_state_gets_twiml_over_real_http(
    fuzzed: Fuzzed, server: str, state: str, body: str, extra: dict[str, str]
) -> None:
    number = fuzzed.fresh(state)
    params = fuzzed.params(number, body, extra)
    response = requests.post(f"{server}/twilio/sms", data=params, timeout=10,
                             headers={"X-Twilio-Signature": sign(params)})  # fmt: skip
    fuzzed.check(number, body, response.status_code, response.text)


@settings(max_examples=60, deadline=None)
@given(body=BODY, extra=EXTRA)
def test_a_forged_fuzzed_request_changes_nothing(
    fuzzed: Fuzzed, body: str, extra: dict[str, str]
) -> None:
    number = fuzzed.fresh("q3")
    before = fuzzed.rt.redis.get(keys.patient(number))
    params = fuzzed.params(number, body, extra)
    signature = sign({**params, "Body": body + "x"})
    response = fuzzed.app.test_client().post(
        "/twilio/sms", data=params, headers={"X-Twilio-Signature": signature}, base_url=PUBLIC
    )
    assert response.status_code == 403
    assert fuzzed.rt.redis.get(keys.patient(number)) == before
