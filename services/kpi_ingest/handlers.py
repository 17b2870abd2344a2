"""The consumer's subscriptions: data points into the series projection (and its signals)."""

from __future__ import annotations

from collections.abc import Callable

from services.kpi_ingest.domain import DataPoint
from services.kpi_ingest.series import Series
from shared.events import Envelope
from shared.events.kpi import KpiDatapointRecorded
from shared.messaging import Router


def build_router(series: Series, notify: Callable[[], None] = lambda: None) -> Router:
    router = Router()

    @router.on(KpiDatapointRecorded)
    async def on_datapoint(event: Envelope, payload: KpiDatapointRecorded) -> None:
        """Store the point once (its id is unique) and move the series' threshold state."""
        await series.record(
            DataPoint(
                id=payload.id,
                tenant=payload.tenant,
                metric=payload.metric,
                value=payload.value,
                timestamp=payload.timestamp,
                dimensions=dict(payload.dimensions),
                source_id=payload.source_id,
                source_event_id=payload.source_event_id,
            )
        )
        notify()  # the point may have crossed a threshold: relay its signal now

    return router
