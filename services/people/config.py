"""Settings of the people service (env prefix ``PEOPLE_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.config import CommonSettings


class PeopleSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="PEOPLE_", extra="ignore", populate_by_name=True)

    service_name: str = "people"
    port: int = 8001
    mongodb_database: str = "northstar_people"
