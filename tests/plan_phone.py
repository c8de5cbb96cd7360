"""What the plan tests read off a patient's phone after each step: the plan, templates, alerts."""

from __future__ import annotations

from bot.core.model import Alert, Patient, Step
from bot.core.plan import Plan


class PlanView:
    patient: Patient
    step: Step

    @property
    def plan(self) -> Plan:
        assert self.patient.plan is not None
        return Plan.from_json(self.patient.plan)

    @property
    def templates(self) -> list[str]:
        return [r.template for r in self.step.replies]

    @property
    def alerts(self) -> list[Alert]:
        return [e for e in self.step.effects if isinstance(e, Alert)]
