"""Settings of the feedback service (env prefix ``FEEDBACK_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.config import CommonSettings


class FeedbackSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="FEEDBACK_", extra="ignore", populate_by_name=True)

    service_name: str = "feedback"
    port: int = 8003
    mongodb_database: str = "northstar_feedback"
