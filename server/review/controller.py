"""HTTP face of review: the queue, approve, return."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter

from server.auth.principal import Principal
from server.bounds import ID_MAX
from server.guards import supervisors_only
from server.review.schemas import ApproveIn, ReturnIn, ReviewOut, ReviewPage
from server.review.service import ReviewService
from server.settings import Settings
from server.store.interface import Store


def provide_review_service(
    store: NamedDependency[Store], settings: NamedDependency[Settings]
) -> ReviewService:
    return ReviewService(store, settings)


class ReviewController(Controller):
    path = "/api/v1/review"
    tags = ["review"]
    guards = [supervisors_only]
    dependencies = {"review": Provide(provide_review_service, sync_to_thread=False)}

    @get("/", operation_id="reviewQueue", sync_to_thread=True)
    def queue(
        self,
        principal: NamedDependency[Principal],
        review: NamedDependency[ReviewService],
        after: Annotated[int, QueryParameter(ge=0, le=ID_MAX)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> ReviewPage:
        """Visit entries in the caller's jurisdiction that need a look, oldest first, each
        with its reasons; neither superseded nor reviewed yet. Pass next_after back."""
        return review.queue(principal, after, limit)

    @post(
        "/{entry_id:str}/approve", operation_id="approveVisit", status_code=200, sync_to_thread=True
    )
    def approve(
        self,
        principal: NamedDependency[Principal],
        review: NamedDependency[ReviewService],
        entry_id: FromPath[str],
        data: JSONBody[ApproveIn],
    ) -> ReviewOut:
        return review.decide(principal, entry_id, "approved", data.note)

    @post(
        "/{entry_id:str}/return", operation_id="returnVisit", status_code=200, sync_to_thread=True
    )
    def return_visit(
        self,
        principal: NamedDependency[Principal],
        review: NamedDependency[ReviewService],
        entry_id: FromPath[str],
        data: JSONBody[ReturnIn],
    ) -> ReviewOut:
        """Send the visit back to its officer with a reason; it reaches their phone on the
        next pull, and they answer with a new entry that supersedes it."""
        return review.decide(principal, entry_id, "returned", data.reason)
