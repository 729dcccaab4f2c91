"""The reference device client: an officer's phone as far as sync goes.

A Python SDK on httpx with a local SQLite store and an outbox. It logs in, pulls the
officer's scope, records visits offline, pushes them with retries and backoff, checks the
scope checksum, follows the event stream, and survives being killed at any point. The
test suite uses it as the phone; sync/PROTOCOL.md is the contract it implements.

An officer's day, in a few lines::

    from clients.device import DeviceClient

    phone = DeviceClient("https://beatsync.example", "phone.db", device_id="phone-7f3a")
    phone.login("o1", "pass-word-1")
    phone.pull()                                   # the scope, most urgent first
    warning = phone.tasks()[0]
    # At the door, no signal: this only writes the phone's database.
    door = phone.add_photo("DCIM/door.jpg")        # kept and queued by its sha256
    phone.record_visit(
        "warning", warning.id,
        arrived_at="2026-11-25T09:20:00+08:00", contact="face_to_face",
        outcome="dissuaded", amount_prevented=100_000, photos=[door],
    )
    phone.set_notes("warning", warning.id, "daughter lives next door")
    # Back in coverage: send the outbox, upload the photos (resuming), refresh the view.
    pushed, pulled = phone.sync()
    print(pushed.applied, pushed.conflicts, phone.rejected(), pulled.checksum)
"""

from clients.device.backoff import RetryPolicy
from clients.device.client import DeviceClient, PullSummary, PushSummary
from clients.device.errors import (
    ChecksumMismatch,
    DeviceError,
    DeviceWiped,
    NotLoggedIn,
    ProblemError,
    ProtocolViolation,
    ServerUnreachable,
    UnknownTask,
    UnsentRecords,
)
from clients.device.local import ConflictNote, LocalTask, Rejected
from clients.device.photos import UploadSummary

__all__ = [
    "ChecksumMismatch",
    "ConflictNote",
    "DeviceClient",
    "DeviceError",
    "DeviceWiped",
    "LocalTask",
    "NotLoggedIn",
    "ProblemError",
    "ProtocolViolation",
    "PullSummary",
    "PushSummary",
    "Rejected",
    "RetryPolicy",
    "ServerUnreachable",
    "UnknownTask",
    "UnsentRecords",
    "UploadSummary",
]
