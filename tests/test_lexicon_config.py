"""The lexicon is clinic content: `bot check-config` catches a gap in it; `bot understand` shows it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.cli import main
from bot.settings import ROOT
from tests.test_check_config import run

LEXICON = "lexicon/en.yaml"


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(ROOT / "config", target)
    return target


def edit(cfg_dir: Path, old: str, new: str, concept: str = "") -> None:
    """Replace the first `old` in the lexicon (after the start of `concept`'s entry, if given)."""
    path = cfg_dir / LEXICON
    text = path.read_text()
    at = text.index(f"  - id: {concept}") if concept else 0
    assert old in text[at:]
    path.write_text(text[:at] + text[at:].replace(old, new, 1))


@pytest.mark.parametrize(
    ("concept", "old", "new", "error"),
    [("chest_breathing", "option: calf_swollen_warm}", "option: hot_knee_fever}",
      "red-flag option red_flags: calf_swollen_warm has no concept"),
     ("cancer_history", '"i had cancer", "history of cancer", "i had chemo", ', "",
      "concept cancer_history: too few phrasings"),
     ("cancer_history", '"i had chemo", "cancer survivor", ', "",
      "concept cancer_history: too few phrasings"),
     ("night_pain", "outcome: priority_call", "outcome: urgent",
      "concept night_pain says outcome urgent but triage.yaml gives priority_call"),
     ("", '- "CHEST ~5 CHEST_FEEL"', '- "CHEST ~5 CHEST_FEELS"',
      "unknown word group CHEST_FEELS; define the group under `words`")],
)  # fmt: skip
def test_check_config_names_what_is_wrong_in_the_lexicon(
    cfg: Path, capsys: pytest.CaptureFixture[str], concept: str, old: str, new: str, error: str
) -> None:
    edit(cfg, old, new, concept)
    code, out = run(cfg, capsys)
    assert code == 1
    assert error in out


def test_bot_understand_prints_the_reading(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["understand", "0, although my calf is warm", "--question", "red_flags"])
    reading = json.loads(capsys.readouterr().out)
    assert code == 0
    assert reading["flags"] == ["calf_swollen_warm"] and reading["safer"] == ["calf_swollen_warm"]
    assert reading["mentions"][0]["context"] == "affirmed"


def test_bot_understand_names_an_unknown_question(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["understand", "hi", "--question", "nope"]) == 2
    assert "known ids: consent" in capsys.readouterr().err


def test_bot_triage_reads_free_text_like_the_conversation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import EXERCISES_PATH

    replies = dict(EXERCISES_PATH) | {"red_flags": "0, although my calf is warm and swollen"}
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(replies))
    assert main(["triage", "--answers", str(answers)]) == 0
    assert json.loads(capsys.readouterr().out)["outcome"] == "urgent"  # not the home program
