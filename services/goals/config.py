"""Settings of the goals service (env prefix ``GOALS_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import CommonSettings


class GoalsSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="GOALS_", extra="ignore", populate_by_name=True)

    service_name: str = "goals"
    port: int = 8002
    mongodb_database: str = "northstar_goals"

    consumer_group: str = "goals"
    # default at-risk margin: a goal is at risk when progress trails the elapsed share of its
    # period by more than this (tenants set their own through PUT /v1/goal-settings)
    at_risk_margin: float = 0.15
    # default N of the weekly "update your key results" nudge: an active goal with no check-in
    # and no KPI movement for N days (tenants set their own through PUT /v1/goal-settings)
    update_reminder_days: int = Field(7, ge=1, le=90)
    # the reassessment scheduler: how often it looks, and the lease that keeps one replica at it
    scheduler_enabled: bool = True
    scheduler_interval_s: float = 60.0
    scheduler_lease_ttl_s: float = 120.0
    # reviews due, risk as time passes and old guards: looked for at a day's first round, while
    # work is found, and otherwise this often (the update nudge looks every round)
    scheduler_day_checks_every_s: float = Field(900.0, gt=0)
    # applied-event guards older than this are pruned (redeliveries come much sooner)
    applied_retention_days: int = 14
    max_key_results: int = 20
    max_goals_page: int = 100
