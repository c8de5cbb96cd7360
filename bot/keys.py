"""Every Redis key the bot uses is spelled here, and only here."""

from __future__ import annotations

PREFIX = "bot:"


def text(value: object) -> str:
    """A Redis reply as text, whether the client decodes responses or not."""
    return value.decode() if isinstance(value, bytes) else str(value)


# Per-number state (one JSON document: conversation, plan) and its optimistic-lock target.
def patient(phone: str) -> str:
    return f"{PREFIX}patient:{phone}"


OPTED_OUT = f"{PREFIX}optout"  # set of numbers that said STOP (or Twilio said 21610)
UNREACHABLE = f"{PREFIX}unreachable"  # hash number -> Twilio code (21211, 21614, 30005, 30006; 21610 for staff)
PATIENTS = f"{PREFIX}patients"  # set of numbers with stored state (for scans and forget)
# When each mark above was set (epoch seconds): the retention sweep ends them after their lifetime.
OPTED_OUT_AT = f"{PREFIX}optout:at"
UNREACHABLE_AT = f"{PREFIX}unreachable:at"
RETENTION_LOCK = f"{PREFIX}retention:lock"  # one retention sweep at a time, at most hourly


def consent(phone: str) -> str:
    """List of JSON consent events (opt-in, opt-out, re-opt-in) for one number."""
    return f"{PREFIX}consent:{phone}"


def message_sid(sid: str) -> str:
    """A processed inbound MessageSid -> the replies it got (48 h)."""
    return f"{PREFIX}msgsid:{sid}"


# Finished triages, for `bot export`.
TRIAGES = f"{PREFIX}triages"  # sorted set: record id scored by finish time (epoch seconds)


def triage(record_id: str) -> str:
    return f"{PREFIX}triage:{record_id}"


def triages_of(phone: str) -> str:
    return f"{PREFIX}triages:of:{phone}"  # set of record ids for one number


# Outbox: a Redis Stream consumed by a consumer group; one entry per message to send.
OUTBOX = f"{PREFIX}outbox"
OUTBOX_GROUP = "senders"
OUTBOX_DEAD = f"{PREFIX}outbox:dead"  # stream of messages that failed permanently


def outbox_stream(lane: int) -> str:
    """One stream per lane (bot.core.sending.Lane); the last lane is the original OUTBOX."""
    return OUTBOX if lane == 3 else f"{OUTBOX}:lane{lane}"


def outbox_alive(consumer: str) -> str:
    """A worker's heartbeat: while it exists, nobody takes over that worker's send marks."""
    return f"{PREFIX}outbox:alive:{consumer}"


def outbox_sent(message_id: str) -> str:
    """Set once the message with this idempotency id was handed to Twilio (its SID)."""
    return f"{PREFIX}outbox:sent:{message_id}"


def outbox_sending(message_id: str) -> str:
    """The send mark (bot.core.sending.Mark: owner, time, state), set just before the send
    call: the lock between workers; an ambiguous send is reconciled against Twilio's log."""
    return f"{PREFIX}outbox:sending:{message_id}"


def outbox_enqueued(message_id: str) -> str:
    """Dedupe of enqueues by idempotency id (e.g. patient, local date, kind)."""
    return f"{PREFIX}outbox:enq:{message_id}"


def delivery(message_sid: str) -> str:
    """Hash: status, error_code, to, updated (from status callbacks)."""
    return f"{PREFIX}delivery:{message_sid}"


# Staff alerts.
def alert(ref: str) -> str:
    return f"{PREFIX}alert:{ref}"  # hash


ALERTS = f"{PREFIX}alerts"  # sorted set: ref scored by creation time
ALERTS_OPEN = f"{PREFIX}alerts:open"  # set of unclaimed refs
ALERT_TIMERS = f"{PREFIX}alerts:timers"  # sorted set: "ref|stage" scored by due epoch seconds


def alerts_of(phone: str) -> str:
    return f"{PREFIX}alerts:of:{phone}"


def alert_ref(ref: str) -> str:
    """Claimed with SET NX before an alert record is written: a reference is never reused."""
    return f"{PREFIX}alert:ref:{ref}"


# Invites to SMS reminders from the web chat, keyed by an HMAC of the number (never the number).
def invite_pending(tag: str) -> str:
    """What the invited number's first reply continues (JSON); no patient record before that."""
    return f"{PREFIX}invite:pending:{tag}"


def invite_sent(tag: str) -> str:
    """At most one invite per number per week, across all web sessions."""
    return f"{PREFIX}invite:sent:{tag}"


def invites_in_hour(slot: int) -> str:
    """Invites sent clinic-wide in one clock hour (a global cap)."""
    return f"{PREFIX}invite:hour:{slot}"


# Web chat alerts without a callback number (bot.web_alerts): caps per hour, then a digest.
def web_alerts_ip(ip_hash: str, hour: int) -> str:
    """Set of "session|level" paged from one client IP (hashed) in one hour."""
    return f"{PREFIX}alerts:web:ip:{ip_hash}:{hour}"


def web_alerts_hour(hour: int) -> str:
    """Set of "session|level" paged from any IP in one hour."""
    return f"{PREFIX}alerts:web:hour:{hour}"


def web_alerts_decided(hour: int) -> str:
    """Hash "session|level" -> 1 (paged) or 0 (folded): each decided once."""
    return f"{PREFIX}alerts:web:decided:{hour}"


WEB_ALERT_DIGESTS = f"{PREFIX}alerts:web:digests"  # sorted set: hour slot scored by when it is due


def web_alerts_folded(hour: int) -> str:
    """Sorted set of alert refs folded into that hour's digest instead of paging."""
    return f"{PREFIX}alerts:web:folded:{hour}"


# Reminders and the scheduler.
SCHEDULER_LEADER = f"{PREFIX}scheduler:leader"
APS_JOBS = f"{PREFIX}aps:jobs"
APS_RUN_TIMES = f"{PREFIX}aps:run_times"


def reminder_sent(patient_id: str, local_date: str, kind: str) -> str:
    return f"{PREFIX}reminder:{patient_id}:{local_date}:{kind}"


def reminder_sent_pattern(patient_id: str) -> str:
    return f"{PREFIX}reminder:{patient_id}:*"


# A stable random id per number: scheduler jobs carry it instead of the number.
PATIENT_IDS = f"{PREFIX}pid:of"  # hash number -> patient id
PATIENT_PHONES = f"{PREFIX}pid:phone"  # hash patient id -> number


def reminder_job(patient_id: str) -> str:
    """The APScheduler job id (a field of APS_JOBS and a member of APS_RUN_TIMES)."""
    return f"reminder:{patient_id}"


def reminder_retry_job(patient_id: str) -> str:
    """The one-off job that retries a reminder held back by an unfinished questionnaire."""
    return f"reminder:{patient_id}:retry"


# Web chat sessions.
def web_rate(scope: str, ident: str, slot: int) -> str:
    return f"{PREFIX}web:rate:{scope}:{ident}:{slot}"


def web_transcript(patient_id: str) -> str:
    """List of JSON {"from": "you"|"bot", "text": ...} for one web chat ("web:<session id>")."""
    return f"{PREFIX}web:transcript:{patient_id}"


def undelivered(phone: str) -> str:
    """Hash: proactive messages that could not reach a number (count, last_kind, last_at,
    last_reason): WhatsApp refused them as outside its window and there was no other route."""
    return f"{PREFIX}undelivered:{phone}"


def keys_of(phone: str) -> list[str]:
    """Keys named after one number (forget deletes these plus records found through indexes)."""
    named = [
        patient(phone),
        triages_of(phone),
        alerts_of(phone),
        consent(phone),
        undelivered(phone),
    ]
    return [*named, web_transcript(phone)] if phone.startswith("web:") else named


# Outbox helpers (sender side).
OUTBOX_DELAYED = f"{PREFIX}outbox:delayed"  # sorted set: outbox entry (JSON) scored by not_before


def send_rate(sender: str) -> str:
    """The shared send-rate limiter's state for one sender number (GCRA arrival time)."""
    return f"{PREFIX}rate:tat:{sender}"


# Structures shared by everyone: erasure only ever takes one person's items out of them.
SHARED = frozenset(
    value
    for name, value in dict(globals()).items()
    if name.isupper() and isinstance(value, str) and value.startswith(PREFIX)
)
