"""Settings of the feedback service (env prefix ``FEEDBACK_``)."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from services.feedback.domain import MIN_ANONYMOUS_RESPONSES
from shared.config import CommonSettings

# Only valid in local mode: the validator refuses it anywhere else.
LOCAL_ANONYMITY_SECRET = "northstar-local-feedback-anonymity-secret-change-me"


class FeedbackSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="FEEDBACK_", extra="ignore", populate_by_name=True)

    service_name: str = "feedback"
    port: int = 8003
    mongodb_database: str = "northstar_feedback"

    # keys the hash of (request id, reviewer id) that stops double answers on anonymous requests
    anonymity_secret: SecretStr = SecretStr(LOCAL_ANONYMITY_SECRET)
    # anonymous answers are released from this many; never below MIN_ANONYMOUS_RESPONSES (3)
    default_min_responses: int = Field(MIN_ANONYMOUS_RESPONSES, ge=MIN_ANONYMOUS_RESPONSES)
    max_reviewers: int = Field(50, ge=1, le=200)
    # requests created from events (goal milestones, manager handovers) are due after this many days
    auto_request_due_days: int = Field(14, ge=1)
    # the request scheduler (expiry and reminders): how often it looks, and the lease that keeps
    # one replica at it
    expiry_interval_s: float = Field(60.0, gt=0)
    scheduler_lease_ttl_s: float = Field(120.0, gt=0)

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> FeedbackSettings:
        if self.environment != "local":
            secret = self.anonymity_secret.get_secret_value()
            if secret == LOCAL_ANONYMITY_SECRET:
                raise ValueError(
                    "FEEDBACK_ANONYMITY_SECRET is the local placeholder; set a real secret "
                    "outside local mode"
                )
            if len(secret) < 32:
                raise ValueError("FEEDBACK_ANONYMITY_SECRET must be at least 32 characters")
        return self
