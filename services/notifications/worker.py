"""The delivery worker: claims due deliveries, applies quiet hours and the daily cap, sends,
records the outcome with its event, retries on the schedule; and assembles daily digests.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson

from services.notifications.channels import EmailSender, HttpSender
from services.notifications.config import NotificationsSettings
from services.notifications.deliveries import DeliveryRepository
from services.notifications.delivery import (
    ASSEMBLING,
    SUPPRESSED,
    Delivery,
    RetryPolicy,
    SendResult,
)
from services.notifications.domain import digest_due, local_day, quiet_until, time_zone
from services.notifications.metrics import DELIVERY_DURATION, NOTIFICATIONS
from services.notifications.repository import PreferenceRepository
from services.notifications.service import Directory
from services.notifications.settled import SettledRefs
from services.notifications.subscriptions import SubscriptionRepository
from shared.background import BackgroundLoop
from shared.directory import Person
from shared.time import Clock
from shared.tracing import continued_span, current_traceparent
from shared.webhooks import signed_headers

if TYPE_CHECKING:
    from services.notifications.stores import NotificationStores


class Dispatcher:
    def __init__(
        self,
        settings: NotificationsSettings,
        *,
        deliveries: DeliveryRepository,
        preferences: PreferenceRepository,
        subscriptions: SubscriptionRepository,
        directory: Directory,
        settled: SettledRefs,
        clock: Clock,
        email: EmailSender,
        http: HttpSender,
        notify: Callable[[], None] = lambda: None,
    ) -> None:
        self._s = settings
        self._deliveries = deliveries
        self._preferences = preferences
        self._subscriptions = subscriptions
        self._directory = directory
        self._settled = settled
        self._clock = clock
        self._email = email
        self._http = http
        self._service = settings.service_name
        self._notify_relay = notify  # delivered/failed events wait in the outbox
        self._retry = RetryPolicy(settings.retry_schedule_s, settings.max_retry_after_s)
        self._loop = BackgroundLoop(
            "notification-worker", self._round, settings.worker_poll_interval_s
        )
        self._last_digest_check = 0.0

    @classmethod
    def of(
        cls,
        settings: NotificationsSettings,
        stores: NotificationStores,
        clock: Clock,
        *,
        email: EmailSender,
        http: HttpSender,
        notify: Callable[[], None],
    ) -> Dispatcher:
        return cls(
            settings,
            deliveries=stores.deliveries,
            preferences=stores.preferences,
            subscriptions=stores.subscriptions,
            directory=stores.directory,
            settled=stores.settled,
            clock=clock,
            email=email,
            http=http,
            notify=notify,
        )

    # ------------------------------------------------------------------ loop

    def notify(self) -> None:
        self._loop.notify()

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _round(self) -> bool:
        if time.monotonic() - self._last_digest_check >= self._s.digest_check_interval_s:
            self._last_digest_check = time.monotonic()
            await self.assemble_digests()
        return await self.run_once() >= self._s.worker_batch

    async def run_once(self) -> int:
        """Process up to one batch of due deliveries; return how many were claimed."""
        count = 0
        while count < self._s.worker_batch and not self._loop.stopping:
            delivery = await self._deliveries.claim(self._clock(), self._s.claim_lease_s)
            if delivery is None:
                break
            count += 1
            await self.process(delivery)
        return count

    # ------------------------------------------------------------------ one delivery

    async def process(self, delivery: Delivery) -> None:
        # continue the trace of the event that caused the delivery (shared.tracing)
        with continued_span(f"deliver {delivery.channel}", delivery.traceparent):
            await self._process(delivery)

    async def _process(self, delivery: Delivery) -> None:
        if delivery.channel == "webhook":
            await self._send_webhook(delivery)
            return
        tenant, recipient = delivery.tenant, delivery.recipient_id
        moot = await self._settled.moot(
            tenant, delivery.ref, delivery.ref_at or delivery.created_at
        )
        if moot is not None:  # done while it waited (quiet hours, a retry): not sent
            await self._suppress(delivery, moot)
            return
        person = await self._directory.get(tenant, recipient)
        prefs = await self._preferences.of(tenant, recipient)
        tz = time_zone(
            prefs.time_zone or (person.time_zone if person else None), self._s.default_time_zone
        )
        now = self._clock()
        until = quiet_until(now, tz, prefs.quiet_hours)
        if until is not None:
            delivery.defer(until, now)
            await self._deliveries.deferred(delivery)
            self._count(delivery, "deferred")
            return
        if delivery.kind == "notification":
            _, day_start = local_day(now, tz)
            sent = await self._deliveries.sent_since(tenant, recipient, day_start)
            if sent >= self._s.daily_cap:
                delivery.fold_into_digest(self._s.daily_cap, now)
                await self._deliveries.folded_into_digest(delivery)
                self._count(delivery, "digested")
                return
        if delivery.channel == "email":
            await self._send_email(delivery, person)
        elif delivery.channel == "slack":
            await self._send_slack(delivery, prefs.slack_webhook_url)

    async def _send_email(self, delivery: Delivery, person: Person | None) -> None:
        if person is None or not person.email or not person.active:
            await self._give_up(delivery, "the recipient has no active email")
            return
        base = self._s.app_url.rstrip("/")
        context: dict[str, Any] = {
            "name": person.name,
            "link": f"{base}/inbox",
            "preferences_link": f"{base}/preferences",
            "base": base,
        }
        items: list[Delivery] = []
        if delivery.kind == "digest":
            items = await self._without_moot(await self._deliveries.digest_items(delivery))
            if not items:
                await self._suppress(delivery, "nothing left for the digest")
                return
            # a notification set to digest on email and Slack appears once
            unique = list({i.notification_id or i.id: i for i in items}.values())
            context |= {"day": delivery.day, "items": unique}
            subject = f"Your Northstar digest: {len(unique)} update" + (
                "" if len(unique) == 1 else "s"
            )
            text, html = self._email.render("digest", context)
        else:
            context |= {
                "title": delivery.title,
                "summary": delivery.summary,
                "reason": delivery.reason,
                # older queued deliveries have no page: the inbox lists them all
                "link": base + (delivery.page or "/inbox"),
            }
            subject = delivery.title or ""
            text, html = self._email.render("notification", context)
        msg = self._email.message(
            to=person.email, subject=subject, text=text, html=html, message_id=delivery.id
        )
        result = await self._timed("email", self._email.send(msg))
        await self._record(delivery, result)
        if result.ok and items:
            await self._deliveries.digested(delivery.tenant, [i.id for i in items], self._clock())

    async def _without_moot(self, items: list[Delivery]) -> list[Delivery]:
        """The digest's items but those done since they were made (kept out, suppressed)."""
        moot = await self._settled.moot_among(
            items[0].tenant if items else "",
            [(i.id, i.ref, i.ref_at or i.created_at) for i in items if i.ref],
        )
        now = self._clock()
        for item_id, reason in moot.items():
            await self._deliveries.suppress_digest_item(items[0].tenant, item_id, reason, now)
            NOTIFICATIONS.labels(self._service, "email", SUPPRESSED).inc()
        return [i for i in items if i.id not in moot]

    async def _send_slack(self, delivery: Delivery, url: str | None) -> None:
        if not url:
            await self._suppress(delivery, "the person removed their Slack webhook URL")
            return
        body = orjson.dumps({"text": f"*{delivery.title}*\n{delivery.summary}"})
        result = await self._timed("slack", self._http.post(url, body, {}))
        await self._record(delivery, result)

    async def _send_webhook(self, delivery: Delivery) -> None:
        sub = await self._subscriptions.get(delivery.tenant, delivery.subscription_id or "")
        if sub is None or not sub.active:
            await self._suppress(delivery, "the subscription is disabled or deleted")
            return
        body = delivery.payload or ""
        # the signature's time is the wall clock: receivers compare it with theirs
        headers = signed_headers(sub.secret, body, msg_id=delivery.id)
        traceparent = current_traceparent()
        if traceparent:  # the receiver can continue the trace (W3C Trace Context)
            headers["traceparent"] = traceparent
        result = await self._timed("webhook", self._http.post(sub.url, body.encode(), headers))
        await self._record(delivery, result)
        if result.gone:
            await self._subscriptions.disable(
                delivery.tenant, sub.id, "the receiver answered 410 Gone"
            )

    async def _timed(self, channel: str, send: Awaitable[SendResult]) -> SendResult:
        started = time.perf_counter()
        result = await send
        DELIVERY_DURATION.labels(self._service, channel).observe(time.perf_counter() - started)
        return result

    # ------------------------------------------------------------------ outcomes

    async def _record(self, delivery: Delivery, result: SendResult) -> None:
        now = self._clock()
        if result.ok:
            delivery.deliver(result, now)
            await self._deliveries.delivered(delivery)
            self._count(delivery, "delivered")
            self._notify_relay()
        elif delivery.fail(result, now, self._retry):
            await self._deliveries.retry_later(delivery)
        else:
            await self._failed(delivery, result.error, gone=result.gone)

    async def _give_up(self, delivery: Delivery, error: str) -> None:
        delivery.give_up(error, self._clock())
        await self._failed(delivery, error, gone=False)

    async def _failed(self, delivery: Delivery, error: str | None, *, gone: bool) -> None:
        await self._deliveries.failed(delivery)
        self._count(delivery, "failed")
        if delivery.channel == "webhook" and not gone:
            await self._subscriptions.disable(
                delivery.tenant,
                delivery.subscription_id or "",
                f"deliveries keep failing: {error}",
            )
        self._notify_relay()

    async def _suppress(self, delivery: Delivery, reason: str) -> None:
        delivery.suppress(reason, self._clock())
        await self._deliveries.suppressed(delivery)
        self._count(delivery, SUPPRESSED)

    def _count(self, delivery: Delivery, outcome: str) -> None:
        NOTIFICATIONS.labels(self._service, delivery.channel, outcome).inc()

    # ------------------------------------------------------------------ digests

    async def assemble_digests(self) -> int:
        """Open today's digest for everyone whose digest time has come and who has items."""
        opened = 0
        for tenant, person_id in await self._deliveries.digest_waiting():
            person = await self._directory.get(tenant, person_id)
            prefs = await self._preferences.of(tenant, person_id)
            tz = time_zone(
                prefs.time_zone or (person.time_zone if person else None), self._s.default_time_zone
            )
            now = self._clock()
            day = digest_due(now, tz, prefs.digest_time)
            if day is None:
                continue
            digest = await self._deliveries.open_digest(
                Delivery.digest(
                    tenant=tenant,
                    recipient_id=person_id,
                    day=day,
                    at=prefs.digest_time.isoformat("minutes"),
                    now=now,
                )
            )
            if digest.status != ASSEMBLING:
                continue  # today's digest went out already: the rest waits for tomorrow's
            await self._deliveries.fill_digest(digest, now)
            opened += 1
        if opened:
            self.notify()
        return opened
