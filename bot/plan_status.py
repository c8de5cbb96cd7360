"""`bot plans`: the staff view of reminder plans: progress, channel, undelivered messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot import keys
from bot.core.channels import last_channel, window_open
from bot.core.plan import Plan
from bot.core.times import local_date
from bot.store import Store


@dataclass(frozen=True)
class PlanStatus:
    phone: str
    status: str  # active, paused, ended, opted_out, or "-" (no plan, only undelivered messages)
    day: int | None
    days: int | None
    done: int
    channel: str
    window_open: bool
    undelivered: int
    last_undelivered: str  # "<kind> <when> (<reason>)" or ""

    def line(self) -> str:
        progress = f"day {self.day}/{self.days}" if self.day is not None else "-"
        window = " (WhatsApp window open)" if self.window_open else ""
        missed = (f"  UNDELIVERED {self.undelivered}: last {self.last_undelivered}"
                  if self.undelivered else "")  # fmt: skip
        return (f"{self.phone}  {self.status:<9} {progress:<11} done {self.done:<3} "
                f"via {self.channel}{window}{missed}")  # fmt: skip


def plan_statuses(store: Store, now: datetime) -> list[PlanStatus]:
    """Every patient with a plan or with undelivered proactive messages, by number."""
    rows = []
    for phone in sorted(keys.text(p) for p in store.redis.sscan_iter(keys.PATIENTS)):
        missed = {keys.text(k): keys.text(v)
                  for k, v in store.redis.hgetall(keys.undelivered(phone)).items()}  # fmt: skip
        patient = store.load(phone)
        if not patient.plan and not missed:
            continue
        plan = Plan.from_json(patient.plan) if patient.plan else None
        day = (local_date(now, plan.zone) - plan.start).days + 1 if plan else None
        status = "opted_out" if patient.opted_out else (plan.status if plan else "-")
        last = (f"{missed.get('last_kind')} {missed.get('last_at')} ({missed.get('last_reason')})"
                if missed else "")  # fmt: skip
        rows.append(PlanStatus(
            phone, status, day, plan.days if plan else None,
            sum(1 for v in plan.log.values() if v == "done") if plan else 0,
            last_channel(patient), window_open(patient, now), int(missed.get("count", 0)), last,
        ))  # fmt: skip
    return rows
