"""Issue 3's promise, end to end: an emergency texted to the web app reaches every on-call phone
through a real `bot worker` process, real Redis, and the official SDK against the fake Twilio API."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import redis

from bot import keys
from bot.runtime import build
from bot.settings import Settings
from bot.web import create_app
from tests.conftest import Phone
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from tests.redis_server import RedisServer, wait_for

ON_CALL = ("+19495550101", "+19495550102")
PATIENT = "+19495557777"


@pytest.fixture
def stack(
    settings: Settings,
) -> Iterator[tuple[Any, FakeTwilio, subprocess.Popen[bytes], Settings]]:
    with RedisServer() as server, FakeTwilio() as fake:
        live = replace(settings, redis_url=server.url, twilio_account_sid=ACCOUNT_SID,
                       twilio_auth_token=AUTH_TOKEN, twilio_api_base_url=fake.base_url,
                       staff_alert_numbers=ON_CALL)  # fmt: skip
        env = {**os.environ, "REDIS_URL": server.url, "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
               "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_FROM_NUMBER": "+19495550000",
               "TWILIO_API_BASE_URL": fake.base_url, "STAFF_ALERT_NUMBERS": ",".join(ON_CALL),
               "PUBLIC_BASE_URL": live.public_base_url or ""}  # fmt: skip
        worker = subprocess.Popen([sys.executable, "-m", "bot", "worker"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
        app = create_app(live, runtime=build(live))
        try:
            yield app, fake, worker, live
        finally:
            worker.terminate()
            worker.wait(timeout=10)


def worker_is_reading(client: Any) -> bool:
    try:
        groups = client.xinfo_groups(keys.OUTBOX)
    except redis.ResponseError:  # no stream yet
        return False
    return bool(groups)  # the worker's consumer creates the group as it starts reading


@pytest.mark.slow
def test_emergency_reaches_every_on_call_phone_within_seconds(stack: Any) -> None:
    app, fake, worker, live = stack
    patient = Phone(app.test_client(), PATIENT, token=AUTH_TOKEN)
    rt = app.extensions["bot"]
    wait_for(lambda: worker_is_reading(rt.redis), 30)  # measure a running worker, not its boot
    patient.send("hi")
    patient.send("yes")
    patient.send("1")
    assert "911" in patient.last_reply
    first = wait_for(lambda: any(fake.count_to(n) == 1 for n in ON_CALL))
    elapsed = first + wait_for(lambda: all(fake.count_to(n) == 1 for n in ON_CALL))
    print(f"\ninbound webhook -> first alert handed to the SDK {first * 1000:.0f} ms, "
          f"both {elapsed * 1000:.0f} ms (1 msg/s shared rate limit)")  # fmt: skip
    assert elapsed < 5.0
    alert = fake.bodies_to(ON_CALL[0])[0]
    assert "EMERGENCY" in alert and PATIENT in alert and "chest" not in alert.lower()
    assert all(m.status_callback == f"{live.public_base_url}/twilio/status" for m in fake.messages)

    ref = alert.split("alert ")[1].split(":")[0]
    staff = Phone(app.test_client(), ON_CALL[1], token=AUTH_TOKEN)
    staff.send(f"ack {ref}")
    assert "is yours" in staff.last_reply
    wait_for(lambda: fake.count_to(ON_CALL[0]) == 2 and fake.count_to(PATIENT) == 1)
    assert "taken by ...0102" in fake.bodies_to(ON_CALL[0])[1]
    assert "will call you shortly" in fake.bodies_to(PATIENT)[0]
    staff.send(f"ACK {ref}")
    assert "already taken" in staff.last_reply
    time.sleep(0.3)
    assert fake.count_to(PATIENT) == 1  # the patient hears it once
    assert worker.poll() is None
