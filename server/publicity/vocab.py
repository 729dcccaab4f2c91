"""The words of a publicity task, as the wire spells them. Values are stable: add, never rename."""

from __future__ import annotations

from enum import StrEnum


class VenueKind(StrEnum):
    """Where the talk, the leaflets or the app installing happen."""

    VILLAGE = "village"  # 行政村, often the village square or committee office
    SCHOOL = "school"
    MARKET = "market"  # 集市, the rural market day draws the whole township
    BANK_BRANCH = "bank_branch"
    COMPANY = "company"
    SQUARE = "square"  # 广场, evening crowds in town
    OTHER = "other"


class Audience(StrEnum):
    """Who is being taught; the scams that work differ by group."""

    ELDERLY = "elderly"
    STUDENTS = "students"
    VILLAGERS = "villagers"
    SHOP_STAFF = "shop_staff"
    BANK_CUSTOMERS = "bank_customers"
    COMPANY_STAFF = "company_staff"
    GENERAL_PUBLIC = "general_public"
    OTHER = "other"
