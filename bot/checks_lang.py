"""check-config for languages: every translation present and current, read right, and its cost.

Segments are counted with the configured `sms_encoding` (gsm7 folds accents, unicode keeps them
and turns the message into UCS-2), per message and per language.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot import translations
from bot.config import Config
from bot.core.options import phrase_words
from bot.errors import ConfigError
from bot.render import Renderer, segments

Fail = Callable[[str], None]


def check_languages(config: Config, renderer: Renderer, samples: Callable[[str], list[dict[str, Any]]],
                    lines: list[str], fail: Fail) -> None:  # fmt: skip
    for problem in translations.problems(config, renderer.root):
        fail(f"translation: {problem}")
    for lang, t in config.translations.items():
        flow = config.languages.book(lang).flow
        found = [p for q in flow.questions.values() for p in q.phrase_problems()]
        found += _shared_phrases(config, lang)
        for problem in found:
            fail(f"{t.path} words: {problem}; reword it or move it to that option")
        if not found:
            lines.append(f"ok   {lang}: every option word is read as its option, not when negated")
    _segments(config, renderer, samples, lines, fail)


def _shared_phrases(config: Config, lang: str) -> list[str]:
    """A phrase claimed by two options of one question would make words ambiguous."""
    found = []
    for q in config.languages.book(lang).flow.questions.values():
        owner: dict[tuple[str, ...], str] = {}
        for o in q.options:
            for phrase in (o.label, *o.synonyms):
                said = phrase_words(phrase)
                if owner.setdefault(said, o.id) != o.id:
                    found.append(f"question {q.id!r}: {phrase!r} is claimed by {owner[said]} "
                                 f"and {o.id}")  # fmt: skip
    return found


def _segments(config: Config, renderer: Renderer, samples: Callable[[str], list[dict[str, Any]]],
              lines: list[str], fail: Fail) -> None:  # fmt: skip
    default = config.clinic.languages.default
    langs = [default, *(lang for lang in config.clinic.languages.offered if lang != default)]
    encoding = config.clinic.sms_encoding
    lines.append(f"segments per message ({encoding}; {', '.join(langs)}):")
    for name in renderer.names():
        counts = []
        for lang in langs:
            if name.startswith(translations.STAFF_ONLY) and lang != langs[0]:
                continue  # staff are written to in the clinic's language only
            worst = 0
            for context in samples(name):
                try:
                    texts = renderer.reply_named(name, context, "sms", lang)
                except ConfigError as err:
                    if lang != config.clinic.languages.default:
                        fail(f"({lang}) {err}")
                    break
                worst = max([worst, *(segments(t) for t in texts)])
            counts.append(f"{lang} {worst}")
        lines.append(f"     {name}: {', '.join(counts)}")
    for lang in langs[1:]:
        for name in renderer.names("web"):
            try:
                renderer.reply_named(name, samples(name)[0], "web", lang)
            except ConfigError as err:
                fail(f"(web chat, {lang}) {err}")
