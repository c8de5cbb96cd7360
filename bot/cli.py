"""The `bot` command: serve, worker, chat, check-config, triage, understand, export, forget,
consent, alerts, plans."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.errors import BotError, ConfigError
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.core.lexicon import Concept
    from bot.core.model import Playbook


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    if getattr(args, "config_dir", None):
        from dataclasses import replace

        settings = replace(settings, config_dir=Path(args.config_dir))
    return settings


def cmd_check_config(args: argparse.Namespace) -> int:
    from bot.checks import check_all

    report = check_all(_settings(args))
    for line in report.lines:
        print(line)
    return 0 if report.ok else 1


def cmd_triage(args: argparse.Namespace) -> int:
    from bot.config import load_config
    from bot.core.triage import missing_answers
    from bot.core.understanding import red_flag_outcome

    config = load_config(_settings(args).config_dir)
    try:
        raw = json.loads(Path(args.answers).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        print(f"error: cannot read {args.answers}: {err}", file=sys.stderr)
        return 2
    if not isinstance(raw, dict):
        print(
            "error: the answers file must hold a JSON object {question id: reply text}",
            file=sys.stderr,
        )
        return 2
    book = config.playbook
    flow = book.flow
    today = datetime.now(config.clinic.zone).date()  # "since March" counts to the clinic's today
    read = _read_replies(raw, book, today)
    if isinstance(read, int):
        return read
    answers, said = read
    if said:
        flagged, _ = red_flag_outcome(flow, book.rules, answers, said)
        print(json.dumps(flagged.to_json()))
        return 0
    if missing := missing_answers(flow, config.playbook.rules, answers):
        print(f"error: the rules need answers to {', '.join(missing)}; add them to "
              f"{args.answers} (questions not asked on this path are left out)", file=sys.stderr)  # fmt: skip
        return 2
    outcome = config.playbook.rules.evaluate(answers)
    if outcome is None:
        print("error: no triage rule matched; run `bot check-config`", file=sys.stderr)
        return 1
    print(json.dumps(outcome.to_json()))
    return 0


def _read_replies(
    raw: dict[str, Any], book: Playbook, today: date
) -> tuple[dict[str, Any], list[Concept]] | int:
    """Each reply read as in a conversation: the safer reading wins, and a red flag said in any
    reply counts. The answers and red-flag concepts, or exit code 2 after saying what is wrong."""
    from bot.core.understanding import understand

    flow = book.flow
    answers: dict[str, Any] = {}
    said: list[Concept] = []
    for qid, text in raw.items():
        if qid not in flow.questions:
            known = ", ".join(flow.questions)
            print(f"error: unknown question id {qid!r}; known ids: {known}", file=sys.stderr)
            return 2
        reading = understand(str(text), flow.question(qid), book.lexicons.get("en"), book.reader,
                             today=today)  # fmt: skip
        if reading.value is None:
            print(f"error: {qid}: cannot understand {text!r} ({reading.error})", file=sys.stderr)
            return 2
        answers[qid] = reading.value
        said += [c for c in reading.concepts if c.red_flag]
    return answers, said


def cmd_understand(args: argparse.Namespace) -> int:
    from bot.config import load_config
    from bot.core.language import prepare
    from bot.core.understanding import understand

    book = load_config(_settings(args).config_dir).languages.book(args.lang)  # its words too
    question = None
    if args.question:
        question = book.flow.questions.get(args.question)
        if question is None:
            known = ", ".join(book.flow.questions)
            print(
                f"error: unknown question id {args.question!r}; known ids: {known}", file=sys.stderr
            )
            return 2
    lexicon = book.lexicons.get(args.lang)
    if lexicon is None:
        print(
            f"error: no lexicon for {args.lang!r}; have {', '.join(book.lexicons)}", file=sys.stderr
        )
        return 2
    reading = understand(prepare(args.text, args.lang), question, lexicon, book.reader,
                         keywords=book.keywords.all, lang=args.lang)  # fmt: skip
    print(json.dumps(reading.to_json(), indent=2, ensure_ascii=False))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from bot.runtime import build

    settings = _settings(args)
    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            print(f"error: --since {args.since!r} is not a date like 2026-11-01", file=sys.stderr)
            return 2
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
    records = build(settings).service.export(since)
    if args.format == "jsonl":
        for record in records:
            print(json.dumps(record))
    else:
        fields = ["id", "phone", "channel", "outcome", "rule", "reasons", "answers",
                  "started_at", "finished_at", "psfs_activity", "psfs_baseline", "psfs_weekly",
                  "psfs_final"]  # fmt: skip
        writer = csv.DictWriter(sys.stdout, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for record in records:
            writer.writerow({**record, "reasons": "; ".join(record["reasons"]),
                             "answers": json.dumps(record["answers"]),
                             "psfs_weekly": json.dumps(record.get("psfs_weekly", []))})  # fmt: skip
    return 0


def _valid_number(raw: str, settings: Settings) -> str | None:
    """A number that really exists in the numbering plan, in E.164; None (with the reason
    printed) otherwise: erasure must never act on a guess. Without +, the clinic's country."""
    import phonenumbers

    from bot.config import load_config

    region = load_config(settings.config_dir).playbook.default_region
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        print(f"error: {raw!r} is not a valid phone number; write it in E.164 form, like "
              "+19495550101 (country code first)", file=sys.stderr)  # fmt: skip
        return None
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def cmd_forget(args: argparse.Namespace) -> int:
    from bot import erase
    from bot.runtime import build
    from bot.spool import Spool

    settings = _settings(args)
    phone = _valid_number(args.phone, settings)
    if phone is None:
        return 2
    store = build(settings).store
    plan = store.forget(phone, dry_run=args.dry_run)
    spooled = Spool(settings.spool_dir).forget(phone, dry_run=args.dry_run)
    if args.dry_run:
        for removal in plan:
            print(removal.describe(phone))
        print(f"would forget ...{phone[-4:]}: {len(plan)} changes and {spooled} spooled messages "
              "(dry run: nothing was deleted)")  # fmt: skip
        return 0
    keys_gone = sum(1 for r in plan if not r.items)
    print(f"forgot ...{phone[-4:]}: {keys_gone} keys deleted, {len(plan) - keys_gone} shared "
          f"structures trimmed, {spooled} spooled messages deleted")  # fmt: skip
    print(f"on disk: {erase.rewrite_files(store.redis)}; backups still hold the number until "
          "they age out (see README, Security)")  # fmt: skip
    return 0


def cmd_consent(args: argparse.Namespace) -> int:
    from bot.runtime import build

    settings = _settings(args)
    phone = _valid_number(args.phone, settings)
    if phone is None:
        return 2
    events = build(settings).store.consent_log(phone)
    if not events:
        print(f"no consent events stored for ...{phone[-4:]}")
    for e in events:
        print(f"{e['at']}  {e['event']:<10} {e['scope']:<9} {e['channel']:<8} "
              f"answering={e['answering'] or '-'}  sid={e['message_sid'] or '-'}  "
              f"words={json.dumps(e['words'])}")  # fmt: skip
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    from bot.runtime import build

    for a in build(_settings(args)).alerts.listing(args.limit):
        claimed = (
            f" by {a.get('claimed_by')} at {a.get('claimed_at')}"
            if a["status"] == "claimed"
            else ""
        )
        who = "web-visitor" if a["phone"].startswith("web:") else a["phone"]  # never a session id
        print(
            f"{a['ref']}  {a['level']:<13} {a['status']}{claimed}  {who}  {a['rule']}  {a['created']}"
        )
    return 0


def cmd_plans(args: argparse.Namespace) -> int:
    from bot.plan_status import plan_statuses
    from bot.runtime import build

    runtime = build(_settings(args))
    rows = plan_statuses(runtime.store, runtime.clock())
    for row in rows:
        print(row.line())
    missed = sum(r.undelivered for r in rows)
    print(f"{len(rows)} plans; {missed} proactive messages could not be delivered")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from bot.serve import serve

    return serve(_settings(args), args.host, args.port)


def cmd_worker(args: argparse.Namespace) -> int:
    from bot.worker import run_worker

    return run_worker(_settings(args))


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.simulator import run_chat

    return run_chat(_settings(args), args.phone, args.script, lang=args.lang)


def cmd_translations(args: argparse.Namespace) -> int:
    """List missing or outdated translations, or re-stamp reviewed ones (`--stamp FILE ...`)."""
    from bot import translations
    from bot.config import load_config

    settings = _settings(args)
    if args.stamp:
        for path in args.stamp:
            try:
                print(translations.stamp(Path(path), settings.config_dir, settings.template_dir))
            except (OSError, ValueError) as err:
                print(f"error: {err}", file=sys.stderr)
                return 2
        return 0
    found = translations.problems(load_config(settings.config_dir), settings.template_dir)
    for line in found:
        print(line)
    print("translations OK" if not found else f"{len(found)} translation problems")
    return 1 if found else 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bot", description=__doc__)
    p.add_argument("--config-dir", help="config folder (default: BOT_CONFIG_DIR or ./config)")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="the web app (webhooks, health, web chat)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.set_defaults(func=cmd_serve)
    sub.add_parser("worker", help="scheduler and outbox sender; needs REDIS_URL").set_defaults(
        func=cmd_worker
    )
    c = sub.add_parser("chat", help="talk to the bot locally as a patient")
    c.add_argument("--phone", default="+19495550123", help="the simulated patient's number (E.164)")
    c.add_argument("--script", help="replay a transcript file non-interactively")
    c.add_argument("--lang", help="answer in this language from the start (e.g. es)")
    c.set_defaults(func=cmd_chat)
    k = sub.add_parser("check-config", help="validate config and templates; walk every path")
    k.add_argument("--config-dir", dest="config_dir", default=argparse.SUPPRESS)
    k.set_defaults(func=cmd_check_config)
    tr = sub.add_parser("translations", help="missing or outdated translations; --stamp FILE")
    tr.add_argument("--stamp", nargs="+", metavar="FILE",
                    help="after reviewing: record the current source version in these files")  # fmt: skip
    tr.set_defaults(func=cmd_translations)
    t = sub.add_parser("triage", help="evaluate the rules on a JSON file of replies")
    t.add_argument("--answers", required=True, help='JSON {"question id": "reply text"}')
    t.set_defaults(func=cmd_triage)
    u = sub.add_parser("understand", help="how the bot reads a text (answer, red flags, intents)")
    u.add_argument("text")
    u.add_argument("--question", help="the question being asked (an id from questionnaire.yaml)")
    u.add_argument("--lang", default="en", help="the lexicon's language (default en)")
    u.set_defaults(func=cmd_understand)
    e = sub.add_parser("export", help="one record per finished triage")
    e.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    e.add_argument("--since", help="only triages finished on or after this date (ISO 8601)")
    e.set_defaults(func=cmd_export)
    f = sub.add_parser("forget", help="delete everything stored about a number")
    f.add_argument("phone")
    f.add_argument("--dry-run", action="store_true", help="list what would go; change nothing")
    f.set_defaults(func=cmd_forget)
    n = sub.add_parser("consent", help="a number's opt-in, opt-out and re-opt-in history")
    n.add_argument("phone")
    n.set_defaults(func=cmd_consent)
    a = sub.add_parser("alerts", help="list staff alerts with their status")
    a.add_argument("--limit", type=int, default=50)
    a.set_defaults(func=cmd_alerts)
    sub.add_parser(
        "plans", help="reminder plans: progress, channel, messages that could not be delivered"
    ).set_defaults(func=cmd_plans)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as err:
        print(f"configuration error:\n{err}", file=sys.stderr)
        return 1
    except BotError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
