"""Logical topic names, one per aggregate stream (a ``.dlq`` twin per consumer)."""

PEOPLE = "northstar.people.v1"
GOALS = "northstar.goals.v1"
FEEDBACK = "northstar.feedback.v1"
KPI_DATAPOINTS = "northstar.kpi.datapoints.v1"
NOTIFICATIONS = "northstar.notifications.v1"
REVIEWS = "northstar.reviews.v1"
AUDIT = "northstar.audit.v1"
# GDPR bookkeeping between services: each reports here that it erased a person
PRIVACY = "northstar.privacy.v1"

ALL = (PEOPLE, GOALS, FEEDBACK, KPI_DATAPOINTS, NOTIFICATIONS, REVIEWS, AUDIT, PRIVACY)
# people is compacted: its last record per person is the full snapshot, so a projection can be
# rebuilt from scratch by reading the topic from the beginning.
COMPACTED = frozenset({PEOPLE})


def dlq(topic: str) -> str:
    return f"{topic}.dlq"
