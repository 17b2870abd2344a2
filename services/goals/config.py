"""Settings of the goals service (env prefix ``GOALS_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.config import CommonSettings


class GoalsSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="GOALS_", extra="ignore", populate_by_name=True)

    service_name: str = "goals"
    port: int = 8002
    mongodb_database: str = "northstar_goals"
