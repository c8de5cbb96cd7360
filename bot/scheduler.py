"""APScheduler wiring: per-patient cron jobs in a shared job store, the leader's scheduler, ticks."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import redis
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.base import BaseJobStore, ConflictingIdError, JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.redis import RedisJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from bot import keys
from bot.errors import BotError
from bot.leader import LeaderLock
from bot.reminders import Reminders, Wake

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)
CATCH_UP_MINUTES = 10

# A job more than this late is skipped by the scheduler (the next day's wake-up still comes);
# longer than the 13 h allowed window, so a worker down all morning still sends that day.
MISFIRE_GRACE = timedelta(hours=14)
JOB_DEFAULTS = {"misfire_grace_time": int(MISFIRE_GRACE.total_seconds()), "coalesce": True,
                "max_instances": 1}  # fmt: skip
FIRE_THREADS = 8
LEADER_TTL = 10.0  # seconds: a standby takes over within this (plus a quarter) of a crash

_active: Reminders | None = None  # set by `register` at worker (or serve) start


def register(reminders: Reminders | None) -> None:
    """Make `fire_job` reach this process's runtime (jobs are pickled: they carry ids only)."""
    global _active
    _active = reminders


def fire_job(patient_id: str) -> None:
    """The job function every reminder job references (bot.scheduler:fire_job)."""
    if _active is None:
        raise BotError("reminder job fired before bot.scheduler.register() was called")
    _active.fire(patient_id)


def daily_trigger(wake: Wake) -> CronTrigger:
    """Every day at the local time in the patient's zone; the plan core decides what to send."""
    zone = ZoneInfo(wake.zone)
    start = datetime.combine(wake.start, datetime.min.time(), zone)
    return CronTrigger(hour=wake.at.hour, minute=wake.at.minute, second=0, timezone=zone,
                       start_date=start)  # fmt: skip


def same_schedule(old: BaseTrigger, new: CronTrigger) -> bool:
    return (isinstance(old, CronTrigger) and str(old) == str(new)
            and str(old.timezone) == str(new.timezone) and old.start_date == new.start_date)  # fmt: skip


def raw_client(client: Any) -> redis.Redis:
    """A twin of `client` without decode_responses: the job store pickles."""
    pool = client.connection_pool
    # A longer read timeout: loading every due job at once can be megabytes.
    kwargs = {**pool.connection_kwargs, "decode_responses": False, "socket_timeout": 10}
    return redis.Redis(connection_pool=type(pool)(connection_class=pool.connection_class, **kwargs))


class SharedRedisJobStore(RedisJobStore):  # type: ignore[misc]
    """RedisJobStore for a store other processes write to (the web app adds and removes jobs)."""

    def update_job(self, job: Job) -> None:
        # Removed meanwhile (STOP): the scheduler thread must not die over it.
        with contextlib.suppress(JobLookupError):
            super().update_job(job)


def job_store(client: Any, *, embedded: bool) -> BaseJobStore:
    if embedded:
        return MemoryJobStore()
    return SharedRedisJobStore(jobs_key=keys.APS_JOBS, run_times_key=keys.APS_RUN_TIMES,
                               connection_pool=raw_client(client).connection_pool)  # fmt: skip


class JobBook:
    """The Jobs port over an APScheduler job store; any process may write (replace_existing)."""

    def __init__(self, store: BaseJobStore) -> None:
        self.store = store
        self.owner = BackgroundScheduler(timezone=UTC)  # never started: owns the Job objects
        store.start(self.owner, "default")
        self._lock = threading.Lock()  # the memory store is not thread-safe

    def put(self, patient_id: str, wake: Wake, now: datetime, *,
            first: datetime | None = None) -> bool:  # fmt: skip
        """Add or replace the daily job; False when an identical one is there already.

        An unchanged schedule is left alone: rewriting it would move a job that is due but not
        yet run past today's send.
        """
        trigger = daily_trigger(wake)
        job_id = keys.reminder_job(patient_id)
        with self._lock:
            old = self.store.lookup_job(job_id)
            if old is not None and same_schedule(old.trigger, trigger):
                return False
            self._write(job_id, patient_id, trigger, first or trigger.get_next_fire_time(None, now))
        return True

    def retry(self, patient_id: str, at: datetime) -> None:
        with self._lock:
            self._write(keys.reminder_retry_job(patient_id), patient_id, DateTrigger(at, UTC), at)

    def remove(self, patient_id: str) -> None:
        with self._lock:
            self._remove_one(keys.reminder_job(patient_id))
            self._remove_one(keys.reminder_retry_job(patient_id))

    def ids(self) -> set[str]:
        """Patient ids with a daily job."""
        with self._lock:
            jobs = self.store.get_all_jobs()
        return {str(j.args[0]) for j in jobs if j.id == keys.reminder_job(str(j.args[0]))}

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self.store.get_all_jobs())

    def _write(self, job_id: str, patient_id: str, trigger: BaseTrigger,
               next_run: datetime | None) -> None:  # fmt: skip
        if next_run is None:  # the trigger will never fire again
            self._remove_one(job_id)
            return
        job = Job(self.owner, id=job_id, func=fire_job, trigger=trigger, executor="default",
                  args=(patient_id,), kwargs={}, name="reminder", next_run_time=next_run,
                  **JOB_DEFAULTS)  # fmt: skip
        try:
            self.store.add_job(job)
        except ConflictingIdError:
            self.store.update_job(job)  # replace_existing

    def _remove_one(self, job_id: str) -> None:
        with contextlib.suppress(JobLookupError):
            self.store.remove_job(job_id)

    # --- the simulated clock: run the same jobs without APScheduler's wall-clock thread ---
    def run_due(self, now: datetime, fire: Callable[[str, datetime], object]) -> int:
        """Run jobs due at `now` as the scheduler would (coalesce, misfire grace); how many ran."""
        with self._lock:
            due = list(self.store.get_due_jobs(now))
        ran = 0
        for job in due:
            latest = self._advance(job, now)
            if latest is not None and now - latest <= MISFIRE_GRACE:
                fire(str(job.args[0]), now)
                ran += 1
        return ran

    def _advance(self, job: Job, now: datetime) -> datetime | None:
        """Move the job to its next fire time (before running it, as APScheduler does)."""
        runs: list[datetime] = []
        at: datetime | None = job.next_run_time
        while at is not None and at <= now:
            runs.append(at)
            at = job.trigger.get_next_fire_time(at, now)
        with self._lock:
            if at is None:
                self._remove_one(job.id)
            else:
                job.next_run_time = at
                self.store.update_job(job)
        return runs[-1] if runs else None


class LeaderScheduler:
    """In `bot worker`: a BackgroundScheduler on the shared store, running only while leading."""

    def __init__(self, reminders: Reminders, client: Any, *, threads: int = FIRE_THREADS) -> None:
        self.reminders = reminders
        self.scheduler = BackgroundScheduler(
            timezone=UTC, executors={"default": ThreadPoolExecutor(threads)},
            jobstores={"default": job_store(client, embedded=False), "local": MemoryJobStore()},
            job_defaults=JOB_DEFAULTS,
        )  # fmt: skip

    def start(self) -> None:
        register(self.reminders)
        self.scheduler.start(paused=True)

    def elected(self) -> None:
        self.scheduler.resume()
        # On the scheduler's threads, not the lock's: a long catch-up must not delay renewal.
        # Now, and then every few minutes: a job lost after its plan was saved (a crash between
        # the two, or a redelivered message that skipped the hook) comes back within minutes.
        self.scheduler.add_job(self.catch_up, "interval", minutes=CATCH_UP_MINUTES,
                               next_run_time=self.reminders.clock(), id="catch-up",
                               jobstore="local", replace_existing=True)  # fmt: skip

    def catch_up(self) -> None:
        self.reminders.catch_up(self.reminders.clock())

    def lost(self) -> None:
        self.scheduler.pause()

    def beat(self) -> None:
        # Jobs added by other processes are invisible to this scheduler's sleep: look again.
        self.scheduler.wakeup()

    def shutdown(self) -> None:
        self.scheduler.shutdown(wait=False)
        register(None)


def start_leader(
    rt: Runtime, stop: threading.Event, *, ttl: float = LEADER_TTL
) -> Callable[[], None]:
    """Start competing for leadership; returns the clean shutdown (hand over, release the lock)."""
    leader = LeaderScheduler(rt.reminders, rt.redis)
    lock = LeaderLock(rt.redis, ttl=ttl)
    leader.start()
    thread = lock.start(stop, on_elected=leader.elected, on_lost=leader.lost, on_beat=leader.beat)

    def shutdown() -> None:
        stop.set()
        thread.join(timeout=ttl)
        try:
            lock.release()
        except redis.RedisError:
            log.warning("leader lock not released; it expires within %.0f s", ttl)
        leader.shutdown()

    return shutdown
