"""Settings of the notifications service (env prefix ``NOTIFICATIONS_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.config import CommonSettings


class NotificationsSettings(CommonSettings):
    model_config = SettingsConfigDict(
        env_prefix="NOTIFICATIONS_", extra="ignore", populate_by_name=True
    )

    service_name: str = "notifications"
    port: int = 8005
    mongodb_database: str = "northstar_notifications"
