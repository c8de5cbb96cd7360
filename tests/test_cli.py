"""The `bot` command line, as an operator uses it."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.cli import main
from bot.core.model import Inbound
from bot.runtime import Runtime, build
from bot.settings import Settings
from tests.conftest import EXERCISES_PATH
from tests.redis_server import RedisServer


def triage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], answers: object
) -> tuple[int, str, str]:
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(answers))
    code = main(["triage", "--answers", str(path)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_triage_reads_replies_as_people_text_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = triage(
        tmp_path, capsys, {"red_flags": "1 and 3", "age": "45", "injury": "no", "ktw": "L 9 R 12"}
    )
    assert code == 0
    assert json.loads(out) == {
        "outcome": "emergency",
        "rule": "emergency_red_flag",
        "reasons": ["you have chest pain or trouble breathing"],
    }
    code, out, _ = triage(tmp_path, capsys, dict(EXERCISES_PATH))
    assert json.loads(out)["outcome"] == "exercises"
    code, out, _ = triage(tmp_path, capsys, {**dict(EXERCISES_PATH), "pain_run": "7/10"})
    assert json.loads(out)["outcome"] == "book_call"
    assert "your pain during runs is 6/10 or more" in json.loads(out)["reasons"]


@pytest.mark.parametrize(
    ("answers", "message"),
    [({"age": "very old"}, "age: cannot understand 'very old'"), ({"pain_run": "11"}, "pain_run"),
     ({"agee": "4"}, "unknown question id 'agee'"), (["not", "an object"], "JSON object")],
)  # fmt: skip
def test_triage_rejects_unparseable_answers_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], answers: object, message: str
) -> None:
    code, _, err = triage(tmp_path, capsys, answers)
    assert code == 2
    assert message in err


@pytest.fixture
def live(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    with RedisServer() as server:
        monkeypatch.setenv("REDIS_URL", server.url)
        yield build(replace(settings, redis_url=server.url))


def converse(rt: Runtime, phone: str, texts: list[str]) -> None:
    for text in texts:
        rt.service.handle_inbound(phone, Inbound(text), rt.clock())


def test_export_forget_and_alerts(live: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    converse(live, "+19495551111", ["hi", *[t for _, t in EXERCISES_PATH], "8am",
                                    "running 5 miles", "4"])  # fmt: skip
    converse(live, "+19495552222", ["hi", "yes", "2"])
    assert main(["export"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["outcome"] for r in records] == ["exercises", "urgent"]
    first = records[0]
    assert first["phone"] == "+19495551111" and first["channel"] == "sms"
    assert first["answers"]["ktw"] == {"left": 8.0, "right": 12.0}
    assert first["answers"]["pain_run"] == 3
    assert first["finished_at"].endswith("+00:00")
    assert (first["psfs_activity"], first["psfs_baseline"]) == ("running 5 miles", 4)
    assert (first["psfs_weekly"], first["psfs_final"]) == ([], None)
    assert main(["export", "--format", "csv", "--since", "2000-01-01"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["outcome"] for r in rows] == ["exercises", "urgent"]
    assert rows[0]["psfs_baseline"] == "4" and rows[1]["psfs_baseline"] == ""
    assert main(["export", "--since", "2999-01-01"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["alerts"]) == 0
    assert "urgent" in capsys.readouterr().out
    assert main(["forget", "+1 (949) 555-2222"]) == 0
    assert "forgot ...2222" in capsys.readouterr().out
    main(["export"])
    assert [json.loads(x)["phone"] for x in capsys.readouterr().out.splitlines()] == [
        "+19495551111"
    ]


def test_chat_script_replays_a_transcript(tmp_path: Path, settings: Settings) -> None:
    from bot.simulator import run_chat

    script = tmp_path / "t.txt"
    script.write_text("# an emergency\nhi\nyes\n1\n/advance 15m\n/staff OPEN\n")
    out = io.StringIO()
    assert run_chat(settings, "+19495550123", str(script), out=out) == 0
    text = out.getvalue()
    assert "you> hi" in text and "call 911 now" in text
    assert text.count("[SMS to staff ...0101]") == 2  # the alert and its re-send after 10 min
    assert "Unclaimed alerts:" in text


@pytest.mark.parametrize(
    ("answers", "named"),
    [({}, "red_flags, age, injury, mechanical, systemic, location, pain_rest, pain_run, settles, "
          "duration, calf_stiff, ktw"),
     ({**dict(EXERCISES_PATH[:7])}, "pain_rest, pain_run, settles, duration, calf_stiff, ktw"),
     ({k: v for k, v in EXERCISES_PATH if k != "injury"}, "injury"),
     # An early outcome later on the path does not excuse the questions before it: with the
     # red-flag screen missing, "priority_call" could really be an emergency.
     ({"age": "45", "systemic": "2"}, "red_flags, injury, mechanical")],
)  # fmt: skip
def test_triage_refuses_answers_the_rules_need_naming_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], answers: dict[str, str], named: str
) -> None:
    code, out, err = triage(tmp_path, capsys, answers)
    assert code == 2 and out == ""
    assert f"the rules need answers to {named};" in err


def test_triage_outcome_claims_only_what_was_measured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    skipped = {**dict(EXERCISES_PATH), "ktw": "skip", "calf_stiff": "yes"}
    code, out, _ = triage(tmp_path, capsys, skipped)
    reasons = json.loads(out)["reasons"]
    assert code == 0 and json.loads(out)["outcome"] == "exercises"
    assert not any("ankle movement" in r or "knee-to-wall" in r for r in reasons)
    assert "you said your calves or ankles feel stiff" in reasons
    code, out, _ = triage(tmp_path, capsys, {**dict(EXERCISES_PATH), "calf_stiff": "no"})
    assert json.loads(out)["reasons"][:2] == [
        "your pain is manageable and settles", "the knee-to-wall test shows limited ankle movement"
    ]  # fmt: skip


def test_triage_reads_words_units_and_dates_as_the_conversation_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    worded = {**dict(EXERCISES_PATH), "location": "outside of the knee", "age": "forty five",
              "injury": "no, it came on gradually", "ktw": "L 3in R 3.5in",
              "duration": "a couple of weeks", "mechanical": "neither, thanks"}  # fmt: skip
    code, out, _ = triage(tmp_path, capsys, worded)
    assert (code, json.loads(out)["outcome"]) == (0, "exercises")
    code, out, _ = triage(tmp_path, capsys, {**worded, "duration": "since 2020"})
    assert "it has lasted more than 12 weeks" in json.loads(out)["reasons"]
