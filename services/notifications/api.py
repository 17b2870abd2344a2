"""Thin HTTP adapters of the notifications service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from services.notifications.inbox import Inbox
from services.notifications.preferences import PreferenceCenter
from services.notifications.schemas import (
    DeliveryPublic,
    InboxCounts,
    InboxItem,
    InboxPage,
    MarkedCount,
    PreferencesPublic,
    PreferencesUpdate,
    TenantDefaultsPublic,
    TenantDefaultsUpdate,
    WebhookSubscriptionCreate,
    WebhookSubscriptionCreated,
    WebhookSubscriptionPublic,
    Why,
)
from shared.audit import Actor
from shared.auth import AdminPrincipal, CurrentPrincipal
from shared.pagination import Page

router = APIRouter(prefix="/v1", tags=["notifications"])


def _inbox(request: Request) -> Inbox:
    inbox: Inbox = request.app.state.inbox
    return inbox


def _center(request: Request) -> PreferenceCenter:
    center: PreferenceCenter = request.app.state.preferences
    return center


# ---------------------------------------------------------------------- inbox


@router.get("/inbox", response_model=InboxPage)
async def list_inbox(
    request: Request,
    principal: CurrentPrincipal,
    unread: bool = False,
    archived: bool = False,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> InboxPage:
    """The caller's inbox, newest first, with unread and unseen counts."""
    inbox = _inbox(request)
    # the page and the counts are independent reads: one round trip to the store, not two
    (items, next_cursor), (unread_count, unseen_count) = await asyncio.gather(
        inbox.page(
            principal.tenant,
            principal.person_id,
            unread=unread,
            archived=archived,
            cursor=cursor,
            limit=limit,
        ),
        inbox.counts(principal.tenant, principal.person_id),
    )
    return InboxPage(
        items=[InboxItem.model_validate(n) for n in items],
        next_cursor=next_cursor,
        unread_count=unread_count,
        unseen_count=unseen_count,
    )


@router.get("/inbox/count", response_model=InboxCounts)
async def inbox_count(request: Request, principal: CurrentPrincipal) -> InboxCounts:
    """Unread and unseen items (the badge)."""
    unread, unseen = await _inbox(request).counts(principal.tenant, principal.person_id)
    return InboxCounts(unread=unread, unseen=unseen)


# how soon an EventSource reconnects when its stream ends (its default is a few seconds)
SSE_RETRY_MS = 1000


class EventStream(StreamingResponse):
    """Documents the stream's media type in the OpenAPI (the route answers SSE, not JSON)."""

    media_type = "text/event-stream"


@router.get("/inbox/stream", response_class=EventStream)
async def inbox_stream(
    request: Request,
    principal: CurrentPrincipal,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=200,
            description="the id of the last item the client got: the stream resumes after it",
        ),
    ] = None,
) -> StreamingResponse:
    """Server-Sent Events: one ``notification`` event per new inbox item.

    The stream ends after ``SSE_STREAM_LIFETIME_S``; reconnecting with ``Last-Event-ID`` (as
    ``EventSource`` does) sends what landed since that item first."""
    settings = request.app.state.settings
    items = _inbox(request).stream(
        principal.tenant,
        principal.person_id,
        keepalive_s=settings.sse_keepalive_s,
        lifetime_s=settings.sse_stream_lifetime_s,
        last_event_id=last_event_id,
    )

    async def events() -> AsyncIterator[bytes]:
        yield b"retry: " + str(SSE_RETRY_MS).encode() + b"\n\n"
        async for item in items:
            if await request.is_disconnected():
                break
            if item is None:
                yield b": keep-alive\n\n"
                continue
            body = InboxItem.model_validate(item).model_dump(mode="json")
            yield b"event: notification\nid: " + item.id.encode() + b"\ndata: "
            yield orjson.dumps(body) + b"\n\n"

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


@router.post("/inbox/read-all", response_model=MarkedCount)
async def read_all(request: Request, principal: CurrentPrincipal) -> MarkedCount:
    """Mark every inbox item read."""
    n = await _inbox(request).read_all(principal.tenant, principal.person_id)
    return MarkedCount(updated=n)


@router.post("/inbox/seen", response_model=MarkedCount)
async def seen_all(request: Request, principal: CurrentPrincipal) -> MarkedCount:
    """Mark every inbox item seen (the inbox was opened), without reading them."""
    n = await _inbox(request).see_all(principal.tenant, principal.person_id)
    return MarkedCount(updated=n)


@router.post("/inbox/{item_id}/read", response_model=InboxItem)
async def read_item(request: Request, principal: CurrentPrincipal, item_id: str) -> InboxItem:
    """Mark one item read (and seen)."""
    item = await _inbox(request).mark(principal.tenant, principal.person_id, item_id, "read")
    return InboxItem.model_validate(item)


@router.post("/inbox/{item_id}/archive", response_model=InboxItem)
async def archive_item(request: Request, principal: CurrentPrincipal, item_id: str) -> InboxItem:
    """Archive one item: it leaves the inbox list and the counts."""
    item = await _inbox(request).mark(principal.tenant, principal.person_id, item_id, "archive")
    return InboxItem.model_validate(item)


# ---------------------------------------------------------------------- preferences


@router.get("/preferences", response_model=PreferencesPublic)
async def get_preferences(request: Request, principal: CurrentPrincipal) -> PreferencesPublic:
    """The caller's settings and the effective category x channel matrix."""
    view = await _center(request).view(principal.tenant, principal.person_id)
    return PreferencesPublic.model_validate(view)


@router.put("/preferences", response_model=PreferencesPublic)
async def put_preferences(
    request: Request, principal: CurrentPrincipal, body: PreferencesUpdate
) -> PreferencesPublic:
    """Replace the caller's preferences (locked tenant defaults cannot be overridden)."""
    view = await _center(request).update(
        principal.tenant, principal.person_id, body.to_preferences()
    )
    return PreferencesPublic.model_validate(view)


@router.get("/preferences/defaults", response_model=TenantDefaultsPublic)
async def get_defaults(request: Request, principal: AdminPrincipal) -> TenantDefaultsPublic:
    """The tenant's defaults and locked categories."""
    return TenantDefaultsPublic.model_validate(await _center(request).defaults(principal.tenant))


@router.put("/preferences/defaults", response_model=TenantDefaultsPublic)
async def put_defaults(
    request: Request, principal: AdminPrincipal, body: TenantDefaultsUpdate
) -> TenantDefaultsPublic:
    """Replace the tenant's defaults; a locked category applies them to everyone."""
    defaults = await _center(request).update_defaults(
        principal.tenant, body.to_defaults(), actor=Actor.of(principal)
    )
    return TenantDefaultsPublic.model_validate(defaults)


# ---------------------------------------------------------------------- webhook subscriptions


@router.post("/webhook-subscriptions", status_code=201, response_model=WebhookSubscriptionCreated)
async def create_subscription(
    request: Request, principal: AdminPrincipal, body: WebhookSubscriptionCreate
) -> WebhookSubscriptionCreated:
    """Subscribe a URL to event types; the signing secret is returned only here."""
    subscription = await _center(request).subscribe(
        principal.tenant, body.url, body.event_types, body.description, actor=Actor.of(principal)
    )
    return WebhookSubscriptionCreated.model_validate(subscription)


@router.get("/webhook-subscriptions", response_model=Page[WebhookSubscriptionPublic])
async def list_subscriptions(
    request: Request, principal: AdminPrincipal
) -> Page[WebhookSubscriptionPublic]:
    """The tenant's webhook subscriptions (active and disabled), oldest first."""
    subscriptions = await _center(request).subscriptions(principal.tenant)
    return Page[WebhookSubscriptionPublic](
        items=[WebhookSubscriptionPublic.model_validate(s) for s in subscriptions]
    )


@router.get("/webhook-subscriptions/{subscription_id}", response_model=WebhookSubscriptionPublic)
async def get_subscription(
    request: Request, principal: AdminPrincipal, subscription_id: str
) -> WebhookSubscriptionPublic:
    """One webhook subscription."""
    subscription = await _center(request).subscription(principal.tenant, subscription_id)
    return WebhookSubscriptionPublic.model_validate(subscription)


@router.delete("/webhook-subscriptions/{subscription_id}", status_code=204)
async def delete_subscription(
    request: Request, principal: AdminPrincipal, subscription_id: str
) -> Response:
    """Remove a webhook subscription; its pending deliveries are dropped."""
    await _center(request).unsubscribe(principal.tenant, subscription_id, actor=Actor.of(principal))
    return Response(status_code=204)


# ---------------------------------------------------------------------- explanations


@router.get("/notifications/{notification_id}/why", response_model=Why)
async def why(request: Request, principal: CurrentPrincipal, notification_id: str) -> Why:
    """The event, the rule and the preference decisions behind one notification."""
    return Why.model_validate(await _center(request).why(principal, notification_id))


@router.get("/deliveries", response_model=Page[DeliveryPublic])
async def deliveries(
    request: Request,
    principal: CurrentPrincipal,
    event_id: Annotated[str, Query(min_length=1, max_length=200)],
) -> Page[DeliveryPublic]:
    """Every delivery of one event and its attempts (admins see all, others their own)."""
    rows = await _center(request).deliveries(principal, event_id)
    return Page[DeliveryPublic](items=[DeliveryPublic.model_validate(d) for d in rows])
