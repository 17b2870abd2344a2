"""Every subscription of the goals service, in one place (thin adapters to the use cases)."""

from __future__ import annotations

from services.goals.progress import DataPoint
from services.goals.reactions import GoalReactions
from shared.directory import PeopleDirectory
from shared.events.envelope import Envelope
from shared.events.feedback import FeedbackSubmitted
from shared.events.kpi import KpiDatapointRecorded
from shared.events.people import PersonManagerChanged
from shared.messaging.consumer import Router


def point_of(payload: KpiDatapointRecorded) -> DataPoint:
    return DataPoint(
        id=payload.id,
        metric=payload.metric,
        value=payload.value,
        timestamp=payload.timestamp,
        source_id=payload.source_id,
        dimensions=payload.dimensions,
    )


def build_router(directory: PeopleDirectory, reactions: GoalReactions) -> Router:
    router = Router()
    # the local people projection first: our own manager_changed reaction runs after it
    directory.register(router)

    @router.on(KpiDatapointRecorded)
    async def on_datapoint(event: Envelope, payload: KpiDatapointRecorded) -> None:
        """Move the key results bound to this KPI."""
        await reactions.apply_datapoint(payload.tenant, point_of(payload))

    @router.on_batch(KpiDatapointRecorded)
    async def on_datapoints(run: list[tuple[Envelope, KpiDatapointRecorded]]) -> None:
        """The same, for a run of points: one save per goal the run moves."""
        by_tenant: dict[str, list[tuple[DataPoint, str | None]]] = {}
        for event, payload in run:
            by_tenant.setdefault(payload.tenant, []).append((point_of(payload), event.traceparent))
        for tenant, points in by_tenant.items():
            await reactions.apply_datapoints(tenant, points)

    @router.on(PersonManagerChanged)
    async def on_manager_changed(event: Envelope, payload: PersonManagerChanged) -> None:
        """The owner's active long-term goals become due for review."""
        await reactions.manager_changed(
            event_id=event.id,
            tenant=payload.tenant,
            person_id=payload.id,
            new_manager_id=payload.new_manager_id,
        )

    @router.on(FeedbackSubmitted)
    async def on_feedback_submitted(event: Envelope, payload: FeedbackSubmitted) -> None:
        """A timeline entry on the linked goal."""
        await reactions.feedback_submitted(event.id, payload)

    return router
