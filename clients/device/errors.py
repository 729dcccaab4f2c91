"""What can go wrong on the phone, as exceptions an app can show or act on."""

from __future__ import annotations

from typing import Any


class DeviceError(Exception):
    """Base of every error the device SDK raises on purpose."""


class ProblemError(DeviceError):
    """The server answered with a problem document (RFC 9457) that no retry will fix."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.code: str = str(problem.get("code") or f"http_{status}")
        self.detail: str | None = problem.get("detail")
        self.field: str | None = problem.get("field")
        super().__init__(f"{status} {self.code}: {self.detail or problem.get('title') or ''}")


class NotLoggedIn(ProblemError):
    """No valid session: the officer has to log in again (the local data stays)."""


class DeviceWiped(DeviceError):
    """The server said to wipe (`action: "wipe"`); every local record has been deleted.

    `handed_in`: how many records went to the server first, under the hand-in a cut-off
    device is given (sync/PROTOCOL.md, Being cut off); their verdicts went with the wipe."""

    def __init__(self, code: str, handed_in: int = 0) -> None:
        self.code = code
        self.handed_in = handed_in
        super().__init__(f"local data wiped on the server's order ({code})")


class UnsentRecords(DeviceError):
    """Another officer signs in while this device still holds records of the last one;
    they must sign in and sync first, or the records would go up under the wrong name."""


class ServerUnreachable(DeviceError):
    """Network errors, timeouts or 5xx on every attempt; nothing was lost, try later."""


class ChecksumMismatch(DeviceError):
    """The local copy still disagrees with the server after resyncing from zero."""

    def __init__(self, local: str, server: str) -> None:
        self.local = local
        self.server = server
        super().__init__(f"local checksum {local} != server checksum {server} after resync")


class UnknownTask(DeviceError, LookupError):
    """The task is not on this device, so the officer cannot have recorded on it."""


class ProtocolViolation(DeviceError):
    """The server's answer does not fit the protocol (a bug on one side or the other)."""
