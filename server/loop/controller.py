"""HTTP face of the closed loop: the platform polls outcomes; the city sees the webhook."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery, QueryParameter

from server.auth.principal import Principal
from server.guards import admin_only, platform_only
from server.loop.schemas import OutcomePage, WebhookStatus
from server.loop.service import FeedService, WebhookSender
from server.store.interface import Store


def provide_feed(store: NamedDependency[Store]) -> FeedService:
    return FeedService(store)


def provide_sender(state: State) -> WebhookSender:
    sender: WebhookSender = state.webhook_sender
    return sender


class OutcomeFeedController(Controller):
    path = "/api/v1/platform/outcomes"
    tags = ["platform"]
    guards = [platform_only]
    dependencies = {"feed": Provide(provide_feed, sync_to_thread=False)}

    @get("/", operation_id="listOutcomes", sync_to_thread=True)
    def outcomes(
        self,
        principal: NamedDependency[Principal],
        feed: NamedDependency[FeedService],
        cursor: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 500,
    ) -> OutcomePage:
        """Outcomes of this platform's warnings after `cursor`, oldest first. Keep the
        returned cursor with what you stored; repeat while has_more. Drop an item whose
        delivery_id you have seen (a webhook may have brought it already)."""
        return feed.page(principal.user_id, cursor, limit)


class WebhookController(Controller):
    path = "/api/v1/platform/webhook"
    tags = ["platform"]
    guards = [admin_only]
    dependencies = {"sender": Provide(provide_sender, sync_to_thread=False)}

    @get("/", operation_id="webhookStatus", sync_to_thread=True)
    def status(self, sender: NamedDependency[WebhookSender]) -> WebhookStatus:
        """How far webhook delivery has got, and why it is waiting, if it is."""
        return sender.status()
