"""The consumer's subscriptions: data points into the series projection (and its signals)."""

from __future__ import annotations

from collections.abc import Callable

from services.kpi_ingest.domain import DataPoint
from services.kpi_ingest.series import Series
from shared.events import Envelope
from shared.events.kpi import KpiDatapointRecorded
from shared.messaging import Router


def point_of(payload: KpiDatapointRecorded) -> DataPoint:
    return DataPoint(
        id=payload.id,
        tenant=payload.tenant,
        metric=payload.metric,
        value=payload.value,
        timestamp=payload.timestamp,
        dimensions=dict(payload.dimensions),
        source_id=payload.source_id,
        source_event_id=payload.source_event_id,
    )


def build_router(series: Series, notify: Callable[[], None] = lambda: None) -> Router:
    router = Router()

    @router.on(KpiDatapointRecorded)
    async def on_datapoint(event: Envelope, payload: KpiDatapointRecorded) -> None:
        """Store the point once (its id is unique) and move the series' threshold state."""
        if await series.record_many([point_of(payload)]):
            notify()  # it crossed a threshold: relay its signal now

    @router.on_batch(KpiDatapointRecorded)
    async def on_datapoints(run: list[tuple[Envelope, KpiDatapointRecorded]]) -> None:
        """The same for a run of points, with one insert for all of them."""
        # waking the relays reads every outbox collection of the service (three finds), so
        # only a run that wrote a signal does; the relays' poll finds anything else
        if await series.record_many([point_of(payload) for _, payload in run]):
            notify()

    return router
