"""`bot check-config` proves the safety properties and catches broken content."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import load_config
from bot.errors import ConfigError
from bot.settings import ROOT


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(ROOT / "config", target)
    return target


def run(cfg: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["check-config", "--config-dir", str(cfg)])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_default_config_is_proven_safe(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(cfg, capsys)
    assert code == 0, out
    assert "no red-flag answer reaches the exercises outcome" in out
    assert "every path ends in exactly one outcome" in out


def test_a_rule_that_lets_a_red_flag_through_is_caught(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    triage = cfg / "triage.yaml"
    text = triage.read_text().replace(
        "{q: red_flags, has_any: [severe_leg_numb_tight], reason:",
        "{q: red_flags, has_any: [chest_breathing], reason:",
    )
    triage.write_text(text)
    code, out = run(cfg, capsys)
    assert code == 1
    assert "a red-flag answer reaches exercises" in out
    assert "'red_flags': ['severe_leg_numb_tight']" in out


def test_a_rule_naming_an_unknown_option_fails_at_load(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    triage = cfg / "triage.yaml"
    triage.write_text(
        triage.read_text().replace("has_any: [hot_knee_fever]", "has_any: [hot_knee]")
    )
    code, out = run(cfg, capsys)
    assert code == 1
    assert "red_flags has no option 'hot_knee'" in out
    assert "hot_knee_fever" in out  # the fix: the ids it could have meant


def test_renumbering_a_menu_keeps_triage(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Swapping two options' numbers moves them in the prompt; rules follow the ids."""
    q = cfg / "questionnaire.yaml"
    text = q.read_text().replace(
        "number: 1\n        id: chest_breathing", "number: 9\n        id: chest_breathing"
    )
    q.write_text(
        text.replace(
            "number: 2\n        id: calf_swollen_warm", "number: 1\n        id: calf_swollen_warm"
        )
    )
    config = load_config(cfg)
    red_flags = config.playbook.flow.question("red_flags")
    assert red_flags.parse("9") == ["chest_breathing"]
    assert config.playbook.rules.evaluate({"red_flags": red_flags.parse("9")}).level == "emergency"  # type: ignore[union-attr]
    assert red_flags.parse("1") == ["calf_swollen_warm"]


def test_no_default_rule_means_paths_without_outcome(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    triage = cfg / "triage.yaml"
    text = triage.read_text()
    triage.write_text(text[: text.index("  - id: home_program")])
    code, out = run(cfg, capsys)
    assert code == 1
    assert "no rule matches the answers" in out


def test_yaml_booleans_are_named_with_the_fix(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kw = cfg / "keywords.yaml"
    kw.write_text(
        kw.read_text().replace('start_when_opted_out: ["yes", "y"]', "start_when_opted_out: [yes]")
    )
    code, out = run(cfg, capsys)
    assert code == 1
    assert "keywords.yaml" in out and "start_when_opted_out.0" in out
    assert "put words in quotes" in out


def test_dangling_next_is_an_error(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    q = cfg / "questionnaire.yaml"
    q.write_text(q.read_text().replace("goto: injury_signs", "goto: injury_sings"))
    code, out = run(cfg, capsys)
    assert code == 1
    assert "unknown id 'injury_sings'" in out


def test_unknown_question_in_a_rule_is_an_error(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    t = cfg / "triage.yaml"
    t.write_text(t.read_text().replace("{q: pain_run, gte: 6", "{q: pain_running, gte: 6"))
    code, out = run(cfg, capsys)
    assert code == 1
    assert "unknown question id 'pain_running'" in out


def test_missing_template_is_named(cfg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "sms" / "q_age.j2").unlink()
    monkeypatch.setenv("BOT_TEMPLATE_DIR", str(templates))
    code, out = run(cfg, capsys)
    assert code == 1
    assert "q_age.j2: missing template" in out


def test_long_messages_are_warned_about(cfg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "sms" / "help.j2").write_text("word " * 200)
    monkeypatch.setenv("BOT_TEMPLATE_DIR", str(templates))
    assert main(["translations", "--stamp", str(templates / "sms" / "es" / "help.j2")]) == 0
    code, out = run(cfg, capsys)
    assert code == 0, out
    assert "help.j2 renders 7 SMS segments" in out


def test_bad_clinic_values_name_the_key(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = cfg / "clinic.yaml"
    c.write_text(c.read_text().replace('time_zone: "America/Los_Angeles"', 'time_zone: "Pacific"'))
    code, out = run(cfg, capsys)
    assert code == 1
    assert "clinic.yaml: key `time_zone`" in out and "IANA" in out


def test_answers_saved_as_menu_numbers_are_read_as_option_ids() -> None:
    """A conversation stored before options had ids still triages the same."""
    from bot.settings import ROOT as root

    flow = load_config(root / "config").playbook.flow
    old = {"red_flags": [2], "mechanical": 1, "location": 3, "age": 40, "injury": False}
    assert flow.upgrade(old) == {
        "red_flags": ["calf_swollen_warm"], "mechanical": "locks", "location": "outside_knee",
        "age": 40, "injury": False,
    }  # fmt: skip


def test_a_synonym_read_as_another_option_fails(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """'nothing' under "gives way" would be read as neither: the clinic is told to reword it."""
    q = cfg / "questionnaire.yaml"
    q.write_text(q.read_text().replace('"gives way", "giving way",', '"gives way", "nothing",'))
    code, out = run(cfg, capsys)
    assert code == 1
    assert "'nothing' is read as 'neither'" in out


def test_a_synonym_claimed_by_two_options_fails_at_load(cfg: Path) -> None:
    q = cfg / "questionnaire.yaml"
    q.write_text(q.read_text().replace('"outer side",', '"outer side", "shins",'))
    with pytest.raises(ConfigError, match="'shins' is claimed by both"):
        load_config(cfg)
