"""The one error model: a stable table of codes, a small exception tree, problem+json.

Every error the API returns is an RFC 9457 problem document whose `code` comes from
ErrorCode. Codes are part of the wire contract: never rename or reuse one; add new ones.
`docs/errors.md` lists them all and a test keeps the two in step.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import msgspec


class ErrorCode(StrEnum):
    # 400: the request itself is malformed
    MALFORMED_BODY = "malformed_body"
    VALIDATION_FAILED = "validation_failed"
    # 401: who are you?
    NOT_AUTHENTICATED = "not_authenticated"
    INVALID_CREDENTIALS = "invalid_credentials"
    TOKEN_INVALID = "token_invalid"
    TOKEN_EXPIRED = "token_expired"
    REFRESH_TOKEN_INVALID = "refresh_token_invalid"
    REFRESH_TOKEN_REUSED = "refresh_token_reused"
    DEVICE_REVOKED = "device_revoked"
    USER_DISABLED = "user_disabled"
    PASSWORD_CHANGE_REQUIRED = "password_change_required"
    # 403: known, but not allowed
    FORBIDDEN = "forbidden"
    CSRF_FAILED = "csrf_failed"
    # 404
    NOT_FOUND = "not_found"
    # 405
    METHOD_NOT_ALLOWED = "method_not_allowed"
    # 409: the request conflicts with the current state
    INVALID_TRANSITION = "invalid_transition"
    ALREADY_EXISTS = "already_exists"
    IDEMPOTENCY_MISMATCH = "idempotency_mismatch"
    # 410
    RESYNC_REQUIRED = "resync_required"
    # 413, 415
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    # 422: well-formed, but the content is wrong
    UNKNOWN_REFERENCE = "unknown_reference"
    IMPORT_REJECTED = "import_rejected"
    # 429
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    # 500
    INTERNAL_ERROR = "internal_error"
    # 503
    APP_NOT_BUILT = "app_not_built"
    NOT_READY = "not_ready"
    STORE_UNAVAILABLE = "store_unavailable"
    # photo uploads (tus 1.0.0, server/uploads)
    PHOTO_TOO_LARGE = "photo_too_large"
    UNSUPPORTED_IMAGE_TYPE = "unsupported_image_type"
    TUS_VERSION_UNSUPPORTED = "tus_version_unsupported"
    UPLOAD_OFFSET_MISMATCH = "upload_offset_mismatch"
    UPLOAD_LOCKED = "upload_locked"
    UPLOAD_GONE = "upload_gone"
    CHECKSUM_ALGORITHM_UNSUPPORTED = "checksum_algorithm_unsupported"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    PHOTO_HASH_MISMATCH = "photo_hash_mismatch"
    UPLOAD_QUOTA_EXCEEDED = "upload_quota_exceeded"
    RANGE_NOT_SATISFIABLE = "range_not_satisfiable"


# code -> (HTTP status, title). Titles are stable, details vary per occurrence.
ERROR_TABLE: dict[ErrorCode, tuple[int, str]] = {
    ErrorCode.MALFORMED_BODY: (400, "The request body could not be read"),
    ErrorCode.VALIDATION_FAILED: (400, "A field has a value that is not allowed"),
    ErrorCode.NOT_AUTHENTICATED: (401, "Authentication is required"),
    ErrorCode.INVALID_CREDENTIALS: (401, "Login or password is wrong"),
    ErrorCode.TOKEN_INVALID: (401, "The access token is not valid"),
    ErrorCode.TOKEN_EXPIRED: (401, "The access token has expired; refresh it"),
    ErrorCode.REFRESH_TOKEN_INVALID: (401, "The refresh token is not valid; log in again"),
    ErrorCode.REFRESH_TOKEN_REUSED: (
        401,
        "The refresh token was already used; this device's session is revoked",
    ),
    ErrorCode.DEVICE_REVOKED: (401, "This device has been revoked; wipe local data"),
    ErrorCode.USER_DISABLED: (401, "This account is disabled; wipe local data"),
    ErrorCode.PASSWORD_CHANGE_REQUIRED: (
        403,
        "This password was set by an administrator; choose your own first",
    ),
    ErrorCode.FORBIDDEN: (403, "This role may not do that"),
    ErrorCode.CSRF_FAILED: (
        403,
        "X-CSRF-Token is missing or does not match this session's beatsync_csrf cookie",
    ),
    ErrorCode.NOT_FOUND: (404, "No such resource, or not in your jurisdiction"),
    ErrorCode.METHOD_NOT_ALLOWED: (405, "Method not allowed on this resource"),
    ErrorCode.INVALID_TRANSITION: (409, "Not allowed in the resource's current state"),
    ErrorCode.ALREADY_EXISTS: (409, "A resource with this identity already exists"),
    ErrorCode.IDEMPOTENCY_MISMATCH: (
        409,
        "This id was already used with different content",
    ),
    ErrorCode.RESYNC_REQUIRED: (410, "The sync cursor is too old; pull again from the start"),
    ErrorCode.PAYLOAD_TOO_LARGE: (413, "The request body is too large"),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: (415, "Unsupported content type"),
    ErrorCode.UNKNOWN_REFERENCE: (422, "A referenced resource does not exist"),
    ErrorCode.IMPORT_REJECTED: (422, "The file has errors; nothing was imported"),
    ErrorCode.TOO_MANY_ATTEMPTS: (429, "Too many failed attempts; wait and retry"),
    ErrorCode.INTERNAL_ERROR: (500, "Internal error; it has been logged"),
    ErrorCode.APP_NOT_BUILT: (503, "The officers' app is not built on this server"),
    ErrorCode.NOT_READY: (503, "This server is not ready to take traffic"),
    ErrorCode.STORE_UNAVAILABLE: (503, "The database is unavailable for a moment; retry"),
    ErrorCode.PHOTO_TOO_LARGE: (413, "The photo is larger than this server takes"),
    ErrorCode.UNSUPPORTED_IMAGE_TYPE: (415, "Not a JPEG, PNG, HEIC/HEIF or WebP image"),
    ErrorCode.TUS_VERSION_UNSUPPORTED: (412, "Send Tus-Resumable: 1.0.0"),
    ErrorCode.UPLOAD_OFFSET_MISMATCH: (409, "Upload-Offset is not where the upload stands"),
    ErrorCode.UPLOAD_LOCKED: (423, "Another request is writing to this upload; retry"),
    ErrorCode.UPLOAD_GONE: (410, "The upload expired or was discarded; create a new one"),
    ErrorCode.CHECKSUM_ALGORITHM_UNSUPPORTED: (
        400,
        "Upload-Checksum names an unsupported algorithm",
    ),
    ErrorCode.CHECKSUM_MISMATCH: (460, "The chunk does not match its Upload-Checksum"),
    ErrorCode.PHOTO_HASH_MISMATCH: (422, "The photo's bytes do not match its declared sha256"),
    ErrorCode.UPLOAD_QUOTA_EXCEEDED: (429, "Too many unfinished uploads; finish or end some"),
    ErrorCode.RANGE_NOT_SATISFIABLE: (416, "The requested range is outside the photo"),
}

# Codes after which the app must drop every resident's data it holds.
WIPE_CODES = frozenset(
    {ErrorCode.DEVICE_REVOKED, ErrorCode.USER_DISABLED, ErrorCode.REFRESH_TOKEN_REUSED}
)

PROBLEM_TYPE_BASE = "https://beatsync.invalid/problems/"


class FieldError(msgspec.Struct, omit_defaults=True):
    """One fault in one field; `line` is set for file imports, `index` for batch items."""

    field: str
    reason: str
    line: int | None = None
    index: int | None = None


class Problem(msgspec.Struct, omit_defaults=True):
    """RFC 9457 problem details, with beatsync's stable `code`."""

    type: str
    title: str
    status: int
    code: str
    detail: str | None = None
    field: str | None = None
    instance: str | None = None
    request_id: str | None = None
    action: str | None = None
    errors: list[FieldError] | None = None
    # With `action: wipe` for a cut-off device (sync/PROTOCOL.md, Being cut off): a token
    # good for `POST /api/v1/sync/push` alone, to hand in the outbox before wiping.
    handin_token: str | None = None


class BeatsyncError(Exception):
    """Base of every error the API turns into a problem document."""

    default_code = ErrorCode.INTERNAL_ERROR

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: ErrorCode | None = None,
        field: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.code = code or self.default_code
        self.detail = detail
        self.field = field
        self.errors = errors
        self.headers = headers or {}
        super().__init__(detail or self.code.value)

    @property
    def status(self) -> int:
        return ERROR_TABLE[self.code][0]

    def to_problem(self, instance: str | None = None, request_id: str | None = None) -> Problem:
        return problem(
            self.code,
            self.detail,
            field=self.field,
            errors=self.errors,
            instance=instance,
            request_id=request_id,
        )


class InputError(BeatsyncError):
    default_code = ErrorCode.VALIDATION_FAILED


class AuthError(BeatsyncError):
    default_code = ErrorCode.NOT_AUTHENTICATED


class PermissionDenied(BeatsyncError):
    default_code = ErrorCode.FORBIDDEN


class NotFound(BeatsyncError):
    default_code = ErrorCode.NOT_FOUND


class ConflictError(BeatsyncError):
    default_code = ErrorCode.INVALID_TRANSITION


class RateLimited(BeatsyncError):
    default_code = ErrorCode.TOO_MANY_ATTEMPTS


def problem(
    code: ErrorCode,
    detail: str | None = None,
    *,
    field: str | None = None,
    errors: list[FieldError] | None = None,
    instance: str | None = None,
    request_id: str | None = None,
) -> Problem:
    status, title = ERROR_TABLE[code]
    return Problem(
        type=PROBLEM_TYPE_BASE + code.value,
        title=title,
        status=status,
        code=code.value,
        detail=detail,
        field=field,
        instance=instance,
        request_id=request_id,
        action="wipe" if code in WIPE_CODES else None,
        errors=errors,
    )


def problem_schema() -> dict[str, Any]:
    """JSON schema of a problem document, for the OpenAPI components."""
    return msgspec.json.schema(Problem)
