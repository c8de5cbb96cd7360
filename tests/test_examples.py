"""The `bot chat --script` examples in examples/ replay as documented."""

from __future__ import annotations

import io
import re

import pytest

from bot.settings import ROOT, Settings
from bot.simulator import run_chat

EXAMPLES = ROOT / "examples"


def replay(settings: Settings, name: str) -> str:
    out = io.StringIO()
    assert run_chat(settings, "+19495550123", str(EXAMPLES / name), out=out) == 0
    return out.getvalue()


def bot_lines(transcript: str) -> list[str]:
    return re.findall(r"^bot> (.*)$", transcript, re.M)


def test_diligent_patient_example(settings: Settings) -> None:
    text = replay(settings, "plan_diligent.txt")
    days = [int(n) for n in re.findall(r"exercise day (\d+) of 18", text)]
    assert days == list(range(1, 19))
    assert text.count("weekly check-in: how bad") == 3
    assert "You did 18 of 18 exercise days; run pain went from 3/10 to 1/10" in text
    assert '"running 5 miles" went from 4/10 to 9/10: a real improvement' in text
    assert "Here's your home program" in text and "You're welcome!" in text
    assert "[SMS to staff" not in text  # nothing for staff when all goes well
    assert "Shall we start" not in text.split("you> 6pm")[1]
    tail = text.split("/advance 7d")[1]
    assert "[SMS to you]" not in tail  # the plan is over: no more texts


def test_worsening_patient_example(settings: Settings) -> None:
    text = replay(settings, "plan_worsening.txt")
    assert "9/10 during runs is too much. Please ease off" in text
    assert "PRIORITY_CALL alert" in text and "Rule: checkin_pain_high" in text
    assert "exercise day 7 of 18" in text  # high pain paused nothing
    assert "Please get medical care today" in text and "URGENT alert" in text
    after = text.split("you> 2\n")[-1]
    assert "Logged" not in after and "nothing was logged" in after
    assert "nearest ER" in after and "Thanks for chatting" not in after
    assert "exercise day" not in after  # paused: no exercise reminders
    assert "Unclaimed alerts:" in after and "urgent" in after  # staff see it in OPEN


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.txt")))
def test_every_example_replays(settings: Settings, name: str) -> None:
    text = replay(settings, name)
    assert bot_lines(text), name
    assert "Traceback" not in text and "usage:" not in text


def test_spanish_example(settings: Settings) -> None:
    text = replay(settings, "espanol.txt")
    assert "Asistente automatico de Impact PT" in text
    assert "Buenas noticias: su dolor es manejable y se calma" in text
    assert "le escribira a las 7:00 pm (hora del Pacifico), lun-sab" in text
    assert "hora de sus ejercicios en casa (dia de ejercicio 6 de 18)" in text
    assert "Lleva 3 de 18 dias de ejercicio" in text and "revision semanal" in text
    assert "in English from now on" in text and "You're unsubscribed" in text
    assert "[SMS to staff" not in text
