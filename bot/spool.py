"""Inbound messages kept on local disk while Redis is down, and their replay once it is back."""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import redis

from bot import outbox
from bot.alerts import address
from bot.core.model import Inbound
from bot.privacy import mask
from bot.service import Handled
from bot.writes import Writes

log = logging.getLogger(__name__)

# Errors that mean "the store is unreachable or refuses writes", not "our code is wrong".
OUTAGE: tuple[type[Exception], ...] = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.OutOfMemoryError,
)
Handler = Callable[[str, Inbound, datetime, str | None], Handled]
_SUFFIX = ".json"
# Set-aside messages wait this long for a human (README: "Spool"), then go: they hold bodies.
FAILED_LIFETIME = 14 * 24 * 3600
_counter = itertools.count()


@dataclass(frozen=True)
class Spooled:
    """One inbound message as Twilio delivered it, with its arrival time."""

    phone: str
    inbound: Inbound
    at: datetime
    sid: str | None

    def to_json(self) -> str:
        i = self.inbound
        doc = {"phone": self.phone, "text": i.text, "channel": i.channel, "media": i.media_count,
               "at": self.at.isoformat(), "sid": self.sid}  # fmt: skip
        return json.dumps(doc)

    @classmethod
    def from_json(cls, raw: str) -> Spooled:
        doc = json.loads(raw)
        inbound = Inbound(str(doc["text"]), str(doc["channel"]), int(doc["media"]))
        return cls(str(doc["phone"]), inbound, datetime.fromisoformat(doc["at"]), doc["sid"])


class Spool:
    """A directory of one file per message; names sort in arrival order across processes."""

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)
        self.failed = self.dir / "failed"

    def put(self, message: Spooled) -> Path:
        """Durable before it returns: write a temp file, fsync, rename, fsync the directory."""
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid():07d}-{next(_counter):09d}{_SUFFIX}"
        final = self.dir / name
        temp = self.dir / f".tmp-{name}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # bodies are health data
        try:
            os.write(fd, message.to_json().encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, final)
        self._fsync_dir()
        return final

    def _fsync_dir(self) -> None:
        fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def pending(self) -> list[Path]:
        try:
            names = sorted(e.name for e in os.scandir(self.dir) if _is_message(e.name))
        except FileNotFoundError:
            return []
        return [self.dir / n for n in names]

    def depth(self) -> int:
        return len(self.pending())

    def forget(self, phone: str, *, dry_run: bool = False) -> int:
        """Delete every spooled or set-aside message from a number; how many (would) go."""
        gone = 0
        for folder in (self.dir, self.failed):
            for path in sorted(folder.glob("*")) if folder.is_dir() else ():
                if path.is_file() and _is_message(path.name) and self._from(path) == phone:
                    if not dry_run:
                        path.unlink(missing_ok=True)
                    gone += 1
        return gone

    def _from(self, path: Path) -> str | None:
        try:
            return str(json.loads(path.read_text(encoding="utf-8"))["phone"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def read(self, path: Path) -> Spooled:
        return Spooled.from_json(path.read_text(encoding="utf-8"))

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        self._fsync_dir()

    def set_aside(self, path: Path) -> None:
        """A file that cannot be processed would block the queue forever: keep it for a human."""
        self.failed.mkdir(mode=0o700, exist_ok=True)
        os.replace(path, self.failed / path.name)
        self.expire_failed()

    def expire_failed(self, now: float | None = None) -> int:
        """Delete set-aside messages older than FAILED_LIFETIME; how many went."""
        cutoff = (time.time() if now is None else now) - FAILED_LIFETIME
        gone = 0
        for path in self.failed.glob("*") if self.failed.is_dir() else ():
            with contextlib.suppress(FileNotFoundError):
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    gone += 1
        return gone

    @contextlib.contextmanager
    def exclusive(self, *, wait: bool) -> Iterator[bool]:
        """One replayer at a time across processes (gunicorn workers share the directory)."""
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self.dir / ".lock", "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _is_message(name: str) -> bool:
    return name.endswith(_SUFFIX) and name[:1].isdigit()


class Replayer:
    """Processes spooled messages in order once the store answers; replies go out by SMS."""

    def __init__(self, spool: Spool, handle: Handler, client: Any, *,
                 interval: float = 1.0) -> None:  # fmt: skip
        self.spool = spool
        self.handle = handle
        self.redis = client
        self.interval = interval
        self._lock = threading.Lock()  # one replay at a time in this process
        self._starting = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def store_up(self) -> bool:
        try:
            return bool(self.redis.ping())
        except redis.RedisError:
            return False

    def replay(self, *, wait: bool = True, budget: float | None = None) -> bool:
        """Process what the spool holds; True when it is empty afterwards."""
        if not self.spool.pending():
            return True
        if not self._lock.acquire(blocking=wait):
            return False
        try:
            with self.spool.exclusive(wait=wait) as mine:
                return mine and self._replay_all(budget)
        finally:
            self._lock.release()

    def _replay_all(self, budget: float | None) -> bool:
        deadline = None if budget is None else time.monotonic() + budget
        for path in self.spool.pending():
            if deadline is not None and time.monotonic() > deadline:
                return False
            try:
                self._replay_one(path)
            except OUTAGE:
                return False  # still down: the file stays, in its place in the queue
        return not self.spool.pending()

    def _replay_one(self, path: Path) -> None:
        try:
            message = self.spool.read(path)
        except FileNotFoundError:
            return  # another process replayed it between listing and reading
        except (ValueError, KeyError, TypeError):
            log.error("spool: unreadable file %s set aside", path.name)
            self.spool.set_aside(path)
            return
        try:
            handled = self.handle(message.phone, message.inbound, message.at, message.sid)
        except OUTAGE:
            raise
        except Exception:
            log.exception("spool: message from %s failed; set aside", mask(message.phone))
            self.spool.set_aside(path)
            return
        self._send_replies(message, handled, path.name)
        self.spool.remove(path)
        log.info("spool: replayed a message from %s (%d replies by SMS)", mask(message.phone),
                 len(handled.replies))  # fmt: skip

    def _send_replies(self, message: Spooled, handled: Handled, name: str) -> None:
        """Through the outbox, since the TwiML answer is long gone.

        Also for a duplicate: the first replay may have committed and then lost Redis before
        enqueueing; the outbox's own dedupe by message id keeps each reply to one send.
        """
        to = address(message.phone, message.inbound.channel)
        base = message.sid or name.removesuffix(_SUFFIX)
        writes = Writes()
        for n, body in enumerate(handled.replies):
            outbox.queue(writes, message_id=f"spool:{base}:{n}", to=to, body=body, kind="reply")
        writes.apply(self.redis)

    # --- the background thread ---
    def start(self) -> None:
        """Idempotent: one thread per process, polling while there is anything to replay."""
        with self._starting:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="spool-replay", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.spool.pending() and self.store_up():
                try:
                    self.replay()
                except Exception:
                    log.exception("spool: replay failed; will try again")


class SpoolingHandler:
    """Wraps Service.handle_inbound: with Redis down, keep the message and apologise."""

    def __init__(self, handle: Handler, spool: Spool, replayer: Replayer,
                 apology: Callable[[], list[str]], *, inline_budget: float = 0.5) -> None:  # fmt: skip
        self.handle = handle
        self.spool = spool
        self.replayer = replayer
        self.apology = apology
        self.inline_budget = inline_budget

    def __call__(self, phone: str, inbound: Inbound, now: datetime, sid: str | None) -> Handled:
        message = Spooled(phone, inbound, now, sid)
        if self.spool.pending():
            up = self.replayer.store_up()
            if not (up and self.replayer.replay(wait=False, budget=self.inline_budget)):
                # Older messages wait on disk: this one queues behind them so order is kept.
                return self._keep(message, store_up=up)
        try:
            return self.handle(phone, inbound, now, sid)
        except OUTAGE:
            return self._keep(message, store_up=False)

    def _keep(self, message: Spooled, *, store_up: bool) -> Handled:
        # At most one Redis timeout has been spent by now, so the answer stays within 2 s.
        self.spool.put(message)
        self.replayer.start()
        if store_up:
            return Handled([])  # the replayer answers by SMS in a moment
        log.warning("store down: message from %s spooled to disk", mask(message.phone))
        return Handled(self.apology())
