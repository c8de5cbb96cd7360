"""The lexicon is clinic content: `bot check-config` catches a gap in it; `bot understand` shows it."""

from __future__ import annotations

import json
import re
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


def edit(cfg_dir: Path, old: str, new: str) -> None:
    path = cfg_dir / LEXICON
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_a_red_flag_option_without_a_concept_fails(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(
        cfg,
        "means: {question: red_flags, option: calf_swollen_warm}",
        "means: {question: red_flags, option: hot_knee_fever}",
    )
    code, out = run(cfg, capsys)
    assert code == 1
    assert "red-flag option red_flags: calf_swollen_warm has no concept" in out


def test_a_concept_with_too_few_phrasings_fails(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = cfg / LEXICON
    text = path.read_text()
    block = text.index("  - id: cancer_history")
    start = text.index("    phrases:", block)
    end = text.index("\n", start)
    path.write_text(text[:start] + '    phrases: ["i had cancer"]' + text[end:])
    code, out = run(cfg, capsys)
    assert code == 1
    assert "concept cancer_history: too few phrasings" in out


def test_an_outcome_that_disagrees_with_triage_fails(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (cfg / LEXICON).read_text()
    at = text.index("  - id: night_pain")
    (cfg / LEXICON).write_text(
        text[:at] + text[at:].replace("outcome: priority_call", "outcome: urgent", 1)
    )
    code, out = run(cfg, capsys)
    assert code == 1
    assert re.search(
        r"concept night_pain says outcome urgent but triage.yaml gives priority_call", out
    )


def test_an_unknown_word_group_names_the_fix(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(cfg, '- "CHEST ~5 CHEST_FEEL"', '- "CHEST ~5 CHEST_FEELS"')
    code, out = run(cfg, capsys)
    assert code == 1
    assert "unknown word group CHEST_FEELS" in out and "define the group under `words`" in out


def test_bot_understand_prints_the_reading(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["understand", "0, although my calf is warm", "--question", "red_flags"])
    reading = json.loads(capsys.readouterr().out)
    assert code == 0
    assert reading["answer"] == [] and reading["flags"] == ["calf_swollen_warm"]
    assert reading["mentions"][0]["context"] == "affirmed"


def test_bot_understand_names_an_unknown_question(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["understand", "hi", "--question", "nope"]) == 2
    assert "known ids: consent" in capsys.readouterr().err
