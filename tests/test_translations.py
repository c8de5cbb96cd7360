"""A translation never lags silently: check-config names every stale or missing translation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.cli import main
from bot.settings import ROOT


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    monkeypatch.setenv("BOT_TEMPLATE_DIR", str(tmp_path / "templates"))
    return tmp_path


def check(tree: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["check-config", "--config-dir", str(tree / "config")])
    out = capsys.readouterr()
    return code, out.out + out.err


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_shipped_translations_are_complete_and_current(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = check(tree, capsys)
    assert code == 0, out
    assert "ok   es: every option word is read as its option" in out
    assert "segments per message (gsm7; en, es):" in out
    assert "     greeting: en 2, es 2" in out and "     staff_alert: en 2" in out
    assert main(["--config-dir", str(tree / "config"), "translations"]) == 0
    assert "translations OK" in capsys.readouterr().out


def test_an_english_template_changed_after_its_translation_fails_until_restamped(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(tree / "templates/sms/q_age.j2", "How old are you", "What is your age")
    code, out = check(tree, capsys)
    spanish = tree / "templates/sms/es/q_age.j2"
    assert code == 1 and f"{spanish}: {tree / 'templates/sms/q_age.j2'} changed after" in out
    assert f"bot translations --stamp {spanish}" in out
    assert main(["translations", "--stamp", str(spanish)]) == 0  # after the review
    code, out = check(tree, capsys)
    assert code == 0, out


def test_a_changed_option_label_makes_the_language_file_stale(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(tree / "config/questionnaire.yaml", 'label: "shin"', 'label: "shin or ankle"')
    code, out = check(tree, capsys)
    lang_file = tree / "config/lang/es.yaml"
    assert code == 1
    assert f"{lang_file}: section `questionnaire`: the English source changed" in out
    assert "section `keywords`" not in out  # only what changed
    main(["--config-dir", str(tree / "config"), "translations", "--stamp", str(lang_file)])
    assert check(tree, capsys)[0] == 0


@pytest.mark.parametrize(
    ("path", "old", "new", "says"),
    [
        (
            "config/lang/es.yaml",
            "      shin:\n",
            "      shin_x:\n",
            "questions.location.options.shin: missing",
        ),
        (
            "config/lang/es.yaml",
            "  df_mobilization:\n",
            "  df_x:\n",
            "exercises.df_mobilization: missing",
        ),
        (
            "config/lang/es.yaml",
            '  "your knee gives way"',
            '  "x"',
            "reasons: 'your knee gives way' missing",
        ),
        ("config/lang/es.yaml", "    pause: [pausa, pausar]\n", "", "keywords.plan.pause: missing"),
        ("config/lang/es.yaml", "  sore: [dolor,", "  x: [dolor,", "plan_talk"),
    ],
)
def test_content_without_a_spanish_version_fails(
    tree: Path, capsys: pytest.CaptureFixture[str], path: str, old: str, new: str, says: str
) -> None:
    edit(tree / path, old, new)
    code, out = check(tree, capsys)
    assert code == 1 and says in out, out


def test_a_missing_or_unstamped_template_translation_fails(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tree / "templates/sms/es/plan_sore.j2").unlink()
    body = (tree / "templates/chat/es/help.j2").read_text(encoding="utf-8").split("\n", 1)[1]
    (tree / "templates/chat/es/help.j2").write_text(body, encoding="utf-8")
    code, out = check(tree, capsys)
    assert code == 1
    assert f"{tree / 'templates/sms/es/plan_sore.j2'}: missing; translate" in out
    assert (
        f"{tree / 'templates/chat/es/help.j2'}: no `{{# translates chat/help.j2 @ HASH #}}`" in out
    )


def test_a_spanish_word_claimed_by_two_options_fails(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(tree / "config/lang/es.yaml", '"espinillas", "canilla"', '"espinillas", "rótula"')
    code, out = check(tree, capsys)
    assert code == 1 and "'rótula' is claimed by kneecap and shin" in out
