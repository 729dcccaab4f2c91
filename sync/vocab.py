"""Words both sides of the protocol share. Values are stable: add, never rename."""

from __future__ import annotations

from enum import StrEnum


class TaskKind(StrEnum):
    WARNING = "warning"
    PUBLICITY = "publicity"


class Outcome(StrEnum):
    """What came of a warning's visit."""

    DISSUADED = "dissuaded"
    ALREADY_LOST = "already_lost"
    NOT_REACHABLE = "not_reachable"
    REFUSED = "refused"
    FALSE_ALARM = "false_alarm"


class ContactMethod(StrEnum):
    FACE_TO_FACE = "face_to_face"
    PHONE = "phone"


class EditableField(StrEnum):
    """Fields of a task that officers' devices edit, last writer (by HLC) wins."""

    OFFICER_NOTES = "officer_notes"
