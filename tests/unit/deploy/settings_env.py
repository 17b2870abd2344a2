"""What each service reads from its environment, from its settings class."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from pydantic import AliasChoices

from shared.cli import SERVICES
from shared.config import CommonSettings

# read by `northstar serve` itself, not by the settings
CLI_ENV = {"NORTHSTAR_HOST", "NORTHSTAR_SERVICE"}
SETTINGS_CLASSES = {
    "web": "services.web.config:WebSettings",
    "people": "services.people.config:PeopleSettings",
    "goals": "services.goals.config:GoalsSettings",
    "feedback": "services.feedback.config:FeedbackSettings",
    "kpi_ingest": "services.kpi_ingest.config:KpiIngestSettings",
    "notifications": "services.notifications.config:NotificationsSettings",
    "reviews": "services.reviews.config:ReviewsSettings",
}
assert set(SETTINGS_CLASSES) == set(SERVICES)


def settings_class(service: str) -> type[CommonSettings]:
    module, name = SETTINGS_CLASSES[service].split(":")
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, CommonSettings)
    return cls


def env_names(cls: type[CommonSettings]) -> set[str]:
    """Every variable name the settings class reads (pydantic-settings ignores case)."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for field_name, field in cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {choice.upper() for choice in alias.choices if isinstance(choice, str)}
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


def read_by(service: str) -> set[str]:
    return env_names(settings_class(service)) | CLI_ENV


@contextmanager
def only_env(values: Mapping[str, str]) -> Iterator[None]:
    """Run with exactly these settings variables (others of the project's prefixes removed)."""
    prefixes = ("NORTHSTAR_", "KAFKA_", "MONGODB_", "PEOPLE_", "GOALS_", "FEEDBACK_", "KPI_")
    prefixes += ("NOTIFICATIONS_",)
    saved = dict(os.environ)
    try:
        for name in list(os.environ):
            if name.upper().startswith(prefixes):
                del os.environ[name]
        os.environ.update(values)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def load_settings(service: str, env: Mapping[str, str]) -> CommonSettings:
    with only_env(env):
        return settings_class(service)()
