"""The delivery worker: claims due deliveries, applies quiet hours and the daily cap, sends,
records the outcome with its event, retries on the schedule; and assembles daily digests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import orjson

from services.notifications.channels import (
    EmailSender,
    HttpSender,
    SendResult,
)
from services.notifications.clock import Clock
from services.notifications.config import NotificationsSettings
from services.notifications.deliveries import ASSEMBLING, DeliveryQueue
from services.notifications.domain import (
    DELIVERED,
    DIGEST,
    FAILED,
    PENDING,
    SUPPRESSED,
    digest_due,
    local_day,
    quiet_until,
    retry_delay,
    time_zone,
)
from services.notifications.metrics import DELIVERY_DURATION, NOTIFICATIONS
from services.notifications.repository import NotificationStore, preferences_from
from shared.background import BackgroundLoop
from shared.directory import PeopleDirectory, Person
from shared.events.envelope import Envelope, deterministic_id, new_event
from shared.events.notifications import NotificationDelivered, NotificationFailed
from shared.mongo import Document
from shared.observability import get_logger
from shared.webhooks import signed_headers

log = get_logger(__name__)
SOURCE = "northstar/notifications"


class Dispatcher:
    def __init__(
        self,
        settings: NotificationsSettings,
        store: NotificationStore,
        queue: DeliveryQueue,
        directory: PeopleDirectory,
        clock: Clock,
        email: EmailSender,
        http: HttpSender,
        *,
        notify: Callable[[], None] = lambda: None,
    ) -> None:
        self._s = settings
        self._store = store
        self._queue = queue
        self._directory = directory
        self._clock = clock
        self._email = email
        self._http = http
        self._service = settings.service_name
        self._notify_relay = notify  # delivered/failed events wait in the outbox
        self._loop = BackgroundLoop(
            "notification-worker", self._round, settings.worker_poll_interval_s
        )
        self._last_digest_check = 0.0

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
            doc = await self._queue.claim(self._clock.now(), self._s.claim_lease_s)
            if doc is None:
                break
            count += 1
            await self.process(doc)
        return count

    # ------------------------------------------------------------------ one delivery

    async def process(self, doc: Document) -> None:
        channel = doc["channel"]
        if channel == "webhook":
            await self._send_webhook(doc)
            return
        person = await self._directory.get(doc["tenant"], doc["recipient_id"])
        prefs = preferences_from(
            (await self._store.preferences_of(doc["tenant"], [doc["recipient_id"]])).get(
                doc["recipient_id"]
            )
        )
        tz = time_zone(
            prefs.time_zone or (person.time_zone if person else None), self._s.default_time_zone
        )
        now = self._clock.now()
        until = quiet_until(now, tz, prefs.quiet_hours)
        if until is not None:
            await self._queue.finish(
                doc["_id"],
                {
                    "$set": {
                        "status": PENDING,
                        "due_at": until,
                        "updated_at": now,
                        "reason": f"quiet hours: waits until {until.isoformat()}",
                    }
                },
            )
            NOTIFICATIONS.labels(self._service, channel, "deferred").inc()
            return
        if doc["kind"] == "notification":
            _, day_start = local_day(now, tz)
            sent = await self._queue.sent_since(doc["tenant"], doc["recipient_id"], day_start)
            if sent >= self._s.daily_cap:
                await self._queue.finish(
                    doc["_id"],
                    {
                        "$set": {
                            "status": DIGEST,
                            "digest_id": None,
                            "updated_at": now,
                            "reason": f"daily cap of {self._s.daily_cap} reached: digest",
                        }
                    },
                )
                NOTIFICATIONS.labels(self._service, channel, "digested").inc()
                return
        if channel == "email":
            await self._send_email(doc, person)
        elif channel == "slack":
            await self._send_slack(doc, prefs.slack_webhook_url)

    async def _send_email(self, doc: Document, person: Person | None) -> None:
        if person is None or not person.email or not person.active:
            await self._give_up(doc, SendResult(False, error="the recipient has no active email"))
            return
        base = self._s.app_url.rstrip("/")
        context: dict[str, Any] = {
            "name": person.name,
            "link": f"{base}/inbox",
            "preferences_link": f"{base}/preferences",
        }
        item_ids: list[str] = []
        if doc["kind"] == "digest":
            items = await self._queue.digest_items(doc["tenant"], doc["_id"])
            if not items:
                await self._finish(doc, SUPPRESSED, "nothing left for the digest")
                return
            item_ids = [i["_id"] for i in items]
            # a notification set to digest on email and Slack appears once
            unique = list({i["notification_id"] or i["_id"]: i for i in items}.values())
            context |= {"day": doc["day"], "items": unique}
            subject = f"Your Northstar digest: {len(unique)} update" + (
                "" if len(unique) == 1 else "s"
            )
            text, html = self._email.render("digest", context)
        else:
            context |= {"title": doc["title"], "summary": doc["summary"], "reason": doc["reason"]}
            subject = doc["title"]
            text, html = self._email.render("notification", context)
        msg = self._email.message(
            to=person.email, subject=subject, text=text, html=html, message_id=doc["_id"]
        )
        result = await self._timed("email", self._email.send(msg))
        await self._record(doc, result)
        if result.ok and item_ids:
            await self._queue.mark_digested(doc["tenant"], item_ids, self._clock.now())

    async def _send_slack(self, doc: Document, url: str | None) -> None:
        if not url:
            await self._finish(doc, SUPPRESSED, "the person removed their Slack webhook URL")
            return
        body = orjson.dumps({"text": f"*{doc['title']}*\n{doc['summary']}"})
        result = await self._timed("slack", self._http.post(url, body, {}))
        await self._record(doc, result)

    async def _send_webhook(self, doc: Document) -> None:
        sub = await self._store.subscription(doc["tenant"], doc["subscription_id"])
        if sub is None or not sub.get("active"):
            await self._finish(doc, SUPPRESSED, "the subscription is disabled or deleted")
            return
        body: str = doc["payload"]
        # the signature's time is the wall clock: receivers compare it with theirs
        headers = signed_headers(sub["secret"], body, msg_id=doc["_id"])
        result = await self._timed("webhook", self._http.post(sub["url"], body.encode(), headers))
        await self._record(doc, result)
        if result.gone:
            await self._store.disable_subscription(
                doc["tenant"], sub["_id"], "the receiver answered 410 Gone"
            )

    async def _timed(self, channel: str, send: Any) -> SendResult:
        started = time.perf_counter()
        result: SendResult = await send
        DELIVERY_DURATION.labels(self._service, channel).observe(time.perf_counter() - started)
        return result

    # ------------------------------------------------------------------ outcomes

    async def _record(self, doc: Document, result: SendResult) -> None:
        now = self._clock.now()
        n = int(doc.get("attempt_count", 0)) + 1
        attempt = {
            "n": n,
            "at": now,
            "ok": result.ok,
            "status_code": result.status_code,
            "error": result.error,
        }
        if result.ok:
            event = self._event(doc, NotificationDelivered, "delivered", attempts=n)
            await self._queue.finish(
                doc["_id"],
                {
                    "$set": {"status": DELIVERED, "delivered_at": now, "updated_at": now},
                    "$push": {"attempts": attempt},
                    "$inc": {"attempt_count": 1},
                },
                [event],
            )
            NOTIFICATIONS.labels(self._service, doc["channel"], "delivered").inc()
            self._notify_relay()
            return
        retry_after = (
            min(result.retry_after, self._s.max_retry_after_s)
            if result.retry_after is not None
            else None
        )
        delay = None
        if not (result.permanent or result.gone):
            delay = retry_delay(self._s.retry_schedule_s, n, retry_after)
        if delay is not None:
            await self._queue.finish(
                doc["_id"],
                {
                    "$set": {
                        "status": PENDING,
                        "due_at": now + timedelta(seconds=delay),
                        "updated_at": now,
                        "last_error": result.error,
                    },
                    "$push": {"attempts": attempt},
                    "$inc": {"attempt_count": 1},
                },
            )
            return
        await self._give_up(doc, result, attempt)

    async def _give_up(
        self, doc: Document, result: SendResult, attempt: Document | None = None
    ) -> None:
        now = self._clock.now()
        n = int(doc.get("attempt_count", 0)) + (1 if attempt else 0)
        event = self._event(
            doc,
            NotificationFailed,
            "failed",
            attempts=n,
            error=result.error or "failed",
            subscription_id=doc.get("subscription_id"),
        )
        update: Document = {
            "$set": {"status": FAILED, "updated_at": now, "last_error": result.error},
            "$inc": {"attempt_count": 1 if attempt else 0},
        }
        if attempt:
            update["$push"] = {"attempts": attempt}
        await self._queue.finish(doc["_id"], update, [event])
        NOTIFICATIONS.labels(self._service, doc["channel"], "failed").inc()
        if doc["channel"] == "webhook" and not result.gone:
            await self._store.disable_subscription(
                doc["tenant"],
                doc["subscription_id"],
                f"deliveries keep failing: {result.error}",
            )
        self._notify_relay()

    async def _finish(self, doc: Document, status: str, reason: str) -> None:
        now = self._clock.now()
        await self._queue.finish(
            doc["_id"], {"$set": {"status": status, "reason": reason, "updated_at": now}}
        )
        NOTIFICATIONS.labels(self._service, doc["channel"], status).inc()

    def _event(self, doc: Document, cls: Any, outcome: str, **fields: Any) -> Envelope:
        payload = cls(
            notification_id=doc.get("notification_id") or doc["_id"],
            tenant=doc["tenant"],
            event_id=doc["event_id"],
            source_event_type=doc["event_type"],
            recipient_id=doc["recipient_id"] if doc["channel"] != "webhook" else None,
            channel=doc["channel"],
            category=doc["category"],
            **fields,
        )
        return new_event(
            payload,
            tenant=doc["tenant"],
            subject=doc.get("notification_id") or doc["_id"],
            source=SOURCE,
            id=deterministic_id("notification-outcome", doc["_id"], outcome),
            time=self._clock.now(),
        )

    # ------------------------------------------------------------------ digests

    async def assemble_digests(self) -> int:
        """Open today's digest for everyone whose digest time has come and who has items."""
        opened = 0
        for tenant, person_id in await self._queue.digest_waiting():
            person = await self._directory.get(tenant, person_id)
            prefs = preferences_from(
                (await self._store.preferences_of(tenant, [person_id])).get(person_id)
            )
            tz = time_zone(
                prefs.time_zone or (person.time_zone if person else None), self._s.default_time_zone
            )
            now = self._clock.now()
            day = digest_due(now, tz, prefs.digest_time)
            if day is None:
                continue
            event_id = f"digest:{day}"
            digest = await self._queue.open_digest(
                {
                    "_id": deterministic_id("delivery", tenant, event_id, person_id, "email"),
                    "tenant": tenant,
                    "event_id": event_id,
                    "event_type": "northstar.notification.digest",
                    "notification_id": None,
                    "recipient_id": person_id,
                    "channel": "email",
                    "kind": "digest",
                    "category": "digest",
                    "day": day,
                    "status": ASSEMBLING,
                    "reason": f"daily digest at {prefs.digest_time.isoformat('minutes')} local",
                    "due_at": now,
                    "digest_id": None,
                    "ref": None,
                    "attempts": [],
                    "attempt_count": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if digest["status"] != ASSEMBLING:
                continue  # today's digest went out already: the rest waits for tomorrow's
            await self._queue.fill_digest(tenant, person_id, digest["_id"], now)
            opened += 1
        if opened:
            self.notify()
        return opened
