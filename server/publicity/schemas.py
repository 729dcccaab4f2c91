"""Wire types of publicity tasks: what a supervisor sends, what everyone reads.

Inputs refuse unknown fields, so that a misspelt field is an error rather than a change
silently not made. Outputs follow msgspec's evolution rules: new fields are added at the
end, enum values are never renamed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from server.bounds import Id
from server.publicity.vocab import Audience, VenueKind
from server.store.records import PublicityStatus

MAX_OFFICERS = 20

Title = Annotated[str, Meta(min_length=1, max_length=200)]
Notes = Annotated[str, Meta(max_length=2000)]
OfficerIds = Annotated[
    list[Id],
    Meta(
        min_length=1,
        max_length=MAX_OFFICERS,
        description="Officers of the grid's station who carry the task out",
    ),
]
Day = Annotated[date, Meta(description="A calendar day, YYYY-MM-DD, local to the city")]


class PublicityTaskIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A new task, as a supervisor plans it."""

    title: Title
    grid_code: Annotated[
        str,
        Meta(min_length=1, max_length=32, description="Village or community where it happens"),
    ]
    venue_kind: VenueKind
    audience: Audience
    window_start: Day
    window_end: Annotated[date, Meta(description="Last day of the window, inclusive")]
    officer_ids: OfficerIds
    notes: Notes | None = None


class PublicityTaskPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Fields to change; a field left out stays as it is. `notes: null` clears the notes.

    The grid cannot change: the task's station, and so who may see it, follow from it.
    """

    title: Title | UnsetType = UNSET
    venue_kind: VenueKind | UnsetType = UNSET
    audience: Audience | UnsetType = UNSET
    window_start: Day | UnsetType = UNSET
    window_end: Day | UnsetType = UNSET
    officer_ids: OfficerIds | UnsetType = UNSET
    notes: Notes | UnsetType | None = UNSET
    status: PublicityStatus | UnsetType = UNSET
    expected_version: (
        Annotated[
            int,
            Meta(description="The version the change was based on; a stale one is refused (409)"),
        ]
        | None
    ) = None


class PublicityTaskOut(msgspec.Struct, kw_only=True):
    id: int
    title: str
    grid_code: str
    venue_kind: VenueKind
    audience: Audience
    window_start: date
    window_end: date
    status: PublicityStatus
    overdue: bool
    officer_ids: list[int]
    notes: str | None
    city_id: str
    county_id: str
    station_id: str
    created_by: int
    version: int
    created_at: datetime
    updated_at: datetime


class PublicityPage(msgspec.Struct, kw_only=True):
    items: list[PublicityTaskOut]
    next_cursor: str | None


class MaterialOut(msgspec.Struct, kw_only=True):
    kind: str
    count: int


class PublicitySessionOut(msgspec.Struct, kw_only=True):
    """One entry of a task's visit log: a session held (or a correction of one, naming the
    entry it supersedes), as the officer reported it from the phone."""

    entry_id: str
    officer_id: int
    supersedes: str | None
    superseded: bool
    recorded_at: datetime
    received_at: datetime
    held_at: datetime | None
    attendance: int | None
    materials: list[MaterialOut]
    notes: str | None
    photos: list[str]
    flags: list[str]
    completed: bool
    review: str | None  # approved | returned, None while unreviewed
    review_note: str | None


class PublicitySessionsOut(msgspec.Struct, kw_only=True):
    """What was held for a task: every session reported, and the totals of the current ones
    (a superseded entry's figures count no more)."""

    task_id: int
    sessions: list[PublicitySessionOut]
    attendance: int
    materials: int
