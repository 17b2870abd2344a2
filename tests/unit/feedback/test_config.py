"""The anonymity secret is refused at its placeholder outside local mode."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.feedback.config import FeedbackSettings

REAL_JWT = "x" * 40


def test_placeholder_anonymity_secret_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="ANONYMITY_SECRET"):
        FeedbackSettings(environment="production", jwt_secret=REAL_JWT)


def test_short_anonymity_secret_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        FeedbackSettings(environment="production", jwt_secret=REAL_JWT, anonymity_secret="short")


def test_real_secret_is_accepted_in_production_and_placeholder_locally() -> None:
    FeedbackSettings(environment="production", jwt_secret=REAL_JWT, anonymity_secret="s" * 40)
    FeedbackSettings()
