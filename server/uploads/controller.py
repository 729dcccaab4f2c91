"""HTTP face of photos: the tus 1.0.0 upload endpoints, and reading stored photos.

`/api/v1/uploads/` speaks tus (core, creation, creation-with-upload, checksum,
termination, expiration), so any tus client uploads a photo given a bearer token and the
metadata `sha256` (see sync/PROTOCOL.md, "Photos"). PATCH bodies are streamed to the
storage as they arrive; they are never read whole into memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from litestar import Controller, Request, Response, delete, get, head, patch, post, route
from litestar.datastructures import ResponseHeader, State
from litestar.di import NamedDependency, Provide
from litestar.enums import HttpMethod
from litestar.exceptions import InternalServerException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    Operation,
    RequestBody,
    Schema,
)
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType
from litestar.params import Body, FromPath, HeaderParameter, PathParameter
from litestar.response import Stream

from server.auth.principal import Principal
from server.bounds import ID_MAX, PathId
from server.errors import ErrorCode, InputError
from server.guards import allow, staff_only
from server.problems import problem_response
from server.store.records import Role
from server.store.upload_records import UploadState
from server.uploads import images
from server.uploads.photos import PhotoService, etag
from server.uploads.schemas import PhotoOut, TaskPhotosOut
from server.uploads.service import ClientGone, UploadOutcome, UploadService
from server.uploads.tus import (
    CHECKSUM_ALGORITHMS,
    OFFSET_MEDIA_TYPE,
    TUS_EXTENSIONS,
    TUS_VERSION,
    base_headers,
    check_version,
    http_date,
    parse_checksum,
    parse_metadata,
)
from sync.vocab import TaskKind

UPLOADS_PATH = "/api/v1/uploads"
UploadId = Annotated[
    str, PathParameter(pattern=r"^[A-Za-z0-9_-]{16,64}$", min_length=16, max_length=64)
]
Sha256Path = Annotated[str, PathParameter(pattern=r"^[0-9a-f]{64}$", min_length=64, max_length=64)]
TusResumable = Annotated[
    str | None,
    HeaderParameter(
        name="Tus-Resumable",
        required=False,  # checked by hand: a missing one answers 412, as tus says
        description="The tus version: 1.0.0 (anything else, or none, gets 412)",
    ),
]
UploadChecksum = Annotated[
    str | None,
    HeaderParameter(
        name="Upload-Checksum",
        required=False,
        description="`sha1 <base64 digest>` or `sha256 <base64 digest>` of this body; a"
        " body that does not match is dropped with 460",
    ),
]


def provide_uploads(state: State) -> UploadService:
    service: UploadService = state.uploads
    return service


def provide_photos(state: State) -> PhotoService:
    service: UploadService = state.uploads
    return PhotoService(service.store, service.storage)


def tus_problem(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """A problem document, with the Tus-Resumable header tus clients expect on every answer."""
    response = problem_response(request, exc)
    response.headers.setdefault("Tus-Resumable", TUS_VERSION)
    return response


def _document_patch_body(
    data: Annotated[bytes, Body(media_type=OFFSET_MEDIA_TYPE, description="The next bytes")],
) -> None:  # pragma: no cover - never called
    """Describes the PATCH body in the OpenAPI document; the handler streams it itself."""


def _document_creation_body(
    data: Annotated[
        bytes | None,
        Body(
            media_type=OFFSET_MEDIA_TYPE,
            description="creation-with-upload: the first bytes (optional)",
        ),
    ] = None,
) -> None:  # pragma: no cover - never called
    """Describes the optional creation body; the handler streams it itself."""


async def _body(request: Request[Any, Any, Any]) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.stream():
            yield chunk
    except InternalServerException as exc:  # Litestar's word for a client that went away
        raise ClientGone from exc


def _state_headers(outcome: UploadOutcome) -> dict[str, str]:
    upload = outcome.upload
    headers = base_headers()
    headers["Upload-Offset"] = str(upload.received)
    if upload.state == UploadState.OPEN:
        headers["Upload-Expires"] = http_date(upload.expires_at)
    return headers


def _check_body_type(request: Request[Any, Any, Any], *, required: bool) -> bool:
    """Whether the request carries upload bytes; a body of another type is refused."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    has_body = bool(request.headers.get("content-length", "0") not in ("", "0")) or (
        "transfer-encoding" in request.headers
    )
    if media_type == OFFSET_MEDIA_TYPE:
        return True
    if required or has_body:
        raise InputError(
            f"send the bytes as {OFFSET_MEDIA_TYPE}",
            code=ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            field="Content-Type",
            headers=base_headers(),
        )
    return False


def _header(name: str, description: str) -> ResponseHeader:
    """A response header for the document only (the handlers set their own); its schema
    is added with the rest of the document (server/openapi.py)."""
    return ResponseHeader(name=name, description=description, documentation_only=True)


OFFSET_HEADER = _header("Upload-Offset", "How many bytes of the upload the server holds")
EXPIRES_HEADER = _header("Upload-Expires", "When an unfinished upload will be removed")
TUS_HEADER = _header("Tus-Resumable", "1.0.0")


@dataclass
class _ImageOperation(Operation):
    """The content operation answers with the photo's own type, whichever it is."""

    def __post_init__(self) -> None:
        binary = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
        for status in ("200", "206"):
            response = (self.responses or {}).get(status)
            if isinstance(response, OpenAPIResponse):
                response.content = {
                    t: OpenAPIMediaType(schema=binary) for t in images.ACCEPTED_TYPES
                }


@dataclass
class _NoContentOperation(Operation):
    """Litestar gives a 204 of a generic route a JSON `null` body; it has none."""

    def __post_init__(self) -> None:
        response = (self.responses or {}).get("204")
        if isinstance(response, OpenAPIResponse):
            response.content = None


@dataclass
class _CreationOperation(Operation):
    """The creation body is optional (creation-with-upload); Litestar marks every body
    as required."""

    def __post_init__(self) -> None:
        if isinstance(self.request_body, RequestBody):
            self.request_body.required = False


class UploadController(Controller):
    path = UPLOADS_PATH
    tags = ["uploads"]
    guards = [allow(Role.OFFICER)]
    exception_handlers = {Exception: tus_problem}
    dependencies = {"uploads": Provide(provide_uploads, sync_to_thread=False)}

    @route(
        "/",
        http_method=HttpMethod.OPTIONS,
        operation_id="uploadOptions",
        status_code=204,
        operation_class=_NoContentOperation,
        response_headers=[
            TUS_HEADER,
            _header("Tus-Version", "1.0.0"),
            _header("Tus-Extension", TUS_EXTENSIONS),
            _header("Tus-Max-Size", "The largest photo taken, in bytes"),
            _header("Tus-Checksum-Algorithm", ",".join(CHECKSUM_ALGORITHMS)),
        ],
    )
    async def announce(self, request: Request[Any, Any, Any]) -> Response[None]:
        """tus discovery: version, extensions, size limit and checksum algorithms."""
        # Named to sort before `create`: Litestar registers a controller's handlers in
        # name order, and a path's first handler gets its generic OPTIONS handler, which
        # would shadow this one.
        settings = request.app.state.settings
        return Response(
            None,
            status_code=204,
            headers={
                **base_headers(),
                "Tus-Version": TUS_VERSION,
                "Tus-Extension": TUS_EXTENSIONS,
                "Tus-Max-Size": str(settings.photo_max_bytes),
                "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS),
            },
        )

    @post(
        "/",
        operation_id="createUpload",
        status_code=201,
        operation_class=_CreationOperation,
        dependencies={"creation_body": Provide(_document_creation_body, sync_to_thread=False)},
        response_headers=[
            TUS_HEADER,
            _header("Location", "The upload's URL"),
            OFFSET_HEADER,
            EXPIRES_HEADER,
        ],
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        uploads: NamedDependency[UploadService],
        upload_length: Annotated[
            int,
            HeaderParameter(
                name="Upload-Length", ge=0, le=ID_MAX, description="The photo's size in bytes"
            ),
        ],
        upload_metadata: Annotated[
            str,
            HeaderParameter(
                name="Upload-Metadata",
                max_length=4096,
                description="`sha256` (required: lowercase hex of the whole photo),"
                " `filename`, `filetype`; each value base64",
            ),
        ],
        tus_resumable: TusResumable = None,
        upload_checksum: UploadChecksum = None,
    ) -> Response[None]:
        """Create an upload for one photo (tus creation). Send the first bytes along as
        `application/offset+octet-stream` to save a round trip (creation-with-upload).
        A photo the server holds already completes at once: Upload-Offset equals its length.
        """
        check_version(tus_resumable)
        metadata = parse_metadata(upload_metadata)
        with_body = _check_body_type(request, required=False)
        checksum = parse_checksum(upload_checksum) if with_body else None
        outcome = await uploads.create(
            principal,
            upload_length,
            upload_metadata,
            metadata,
            _body(request) if with_body else None,
            checksum,
        )
        headers = _state_headers(outcome)
        headers["Location"] = f"{UPLOADS_PATH}/{outcome.upload.id}"
        return Response(None, status_code=201, headers=headers)

    @head(
        "/{upload_id:str}",
        operation_id="getUploadOffset",
        response_headers=[
            TUS_HEADER,
            OFFSET_HEADER,
            _header("Upload-Length", "The photo's size"),
            _header("Upload-Metadata", "As sent at creation"),
            EXPIRES_HEADER,
        ],
    )
    async def offset(
        self,
        principal: NamedDependency[Principal],
        uploads: NamedDependency[UploadService],
        upload_id: UploadId,
        tus_resumable: TusResumable = None,
    ) -> Response[None]:
        """Where an upload stands: resume PATCHing from Upload-Offset."""
        check_version(tus_resumable)
        outcome = await uploads.head(principal, upload_id)
        headers = _state_headers(outcome)
        headers["Upload-Length"] = str(outcome.upload.length)
        headers["Upload-Metadata"] = outcome.upload.metadata
        headers["Cache-Control"] = "no-store"
        return Response(None, status_code=200, headers=headers)

    @patch(
        "/{upload_id:str}",
        operation_id="appendUpload",
        status_code=204,
        dependencies={"patch_body": Provide(_document_patch_body, sync_to_thread=False)},
        response_headers=[TUS_HEADER, OFFSET_HEADER, EXPIRES_HEADER],
    )
    async def append(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        uploads: NamedDependency[UploadService],
        upload_id: UploadId,
        upload_offset: Annotated[
            int,
            HeaderParameter(
                name="Upload-Offset",
                ge=0,
                le=ID_MAX,
                description="Where these bytes go: the offset HEAD returned",
            ),
        ],
        tus_resumable: TusResumable = None,
        upload_checksum: UploadChecksum = None,
    ) -> Response[None]:
        """Append bytes at Upload-Offset. A cut-off body keeps what arrived (unless it had an
        Upload-Checksum); the last byte completes the photo, if it hashes to its sha256."""
        check_version(tus_resumable)
        _check_body_type(request, required=True)
        checksum = parse_checksum(upload_checksum)
        outcome = await uploads.patch(
            principal, upload_id, upload_offset, checksum, _body(request), request.content_length
        )
        return Response(None, status_code=204, headers=_state_headers(outcome))

    @delete(
        "/{upload_id:str}",
        operation_id="terminateUpload",
        status_code=204,
        response_headers=[TUS_HEADER],
    )
    async def terminate(
        self,
        principal: NamedDependency[Principal],
        uploads: NamedDependency[UploadService],
        upload_id: UploadId,
        tus_resumable: TusResumable = None,
    ) -> Response[None]:
        """End an unfinished upload and drop its bytes (tus termination). A complete one
        is a stored photo and stays (409)."""
        check_version(tus_resumable)
        await uploads.terminate(principal, upload_id)
        return Response(None, status_code=204, headers=base_headers())


class PhotoController(Controller):
    path = "/api/v1/photos"
    tags = ["photos"]
    guards = [staff_only]
    dependencies = {"photos": Provide(provide_photos, sync_to_thread=False)}

    @get("/{sha256:str}", operation_id="getPhoto", sync_to_thread=True)
    def get_photo(
        self,
        principal: NamedDependency[Principal],
        photos: NamedDependency[PhotoService],
        sha256: Sha256Path,
    ) -> PhotoOut:
        """A stored photo's facts: size, type, capture time and position from EXIF."""
        return photos.get(principal, sha256)

    @get(
        "/{sha256:str}/content",
        operation_id="getPhotoContent",
        media_type="image/jpeg",
        operation_class=_ImageOperation,
        responses={
            206: ResponseSpec(data_container=bytes, description="One range of the photo"),
            304: ResponseSpec(data_container=None, description="Not modified (If-None-Match)"),
        },
        response_headers=[
            _header("ETag", "The sha256, quoted: the content never changes"),
            _header("Accept-Ranges", "bytes"),
        ],
    )
    async def content(
        self,
        principal: NamedDependency[Principal],
        photos: NamedDependency[PhotoService],
        sha256: Sha256Path,
        range_header: Annotated[
            str | None,
            HeaderParameter(
                name="Range", required=False, description="One range: `bytes=start-end`"
            ),
        ] = None,
        if_none_match: Annotated[
            str | None, HeaderParameter(name="If-None-Match", required=False)
        ] = None,
    ) -> Response[Any]:
        """The photo's bytes, exactly as taken. Supports `Range` (one range, 206) and
        `If-None-Match` (304)."""
        photo, span, blocks = await anyio.to_thread.run_sync(
            photos.content, principal, sha256, range_header
        )
        tag = etag(photo.sha256)
        common = {
            "ETag": tag,
            "Accept-Ranges": "bytes",
            "Cache-Control": "private, max-age=31536000, immutable",
        }
        if if_none_match is not None and tag in {t.strip() for t in if_none_match.split(",")}:
            return Response(b"", status_code=304, headers=common)
        headers = dict(common)
        status = 200
        start, end = 0, photo.size
        if span is not None:
            start, end = span
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{photo.size}"
        headers["Content-Length"] = str(end - start)
        return Stream(blocks, status_code=status, media_type=photo.media_type, headers=headers)

    @get(
        "/{sha256:str}/thumbnail",
        operation_id="getPhotoThumbnail",
        media_type="image/jpeg",
        sync_to_thread=True,
        response_headers=[_header("ETag", "Quoted sha256 of the photo, with -thumb")],
    )
    def thumbnail(
        self,
        principal: NamedDependency[Principal],
        photos: NamedDependency[PhotoService],
        sha256: Sha256Path,
    ) -> Response[bytes]:
        """A small JPEG of the photo, upright, without any metadata (no EXIF, no GPS)."""
        data = photos.thumbnail(principal, sha256)
        return Response(
            data,
            media_type="image/jpeg",
            headers={"ETag": etag(sha256, "-thumb"), "Cache-Control": "private, max-age=86400"},
        )

    @get("/tasks/{task_kind:str}/{task_id:int}", operation_id="listTaskPhotos", sync_to_thread=True)
    def of_task(
        self,
        principal: NamedDependency[Principal],
        photos: NamedDependency[PhotoService],
        task_kind: FromPath[TaskKind],
        task_id: PathId,
    ) -> TaskPhotosOut:
        """The photos named by a task's visit log, entry by entry: `received` ones with their
        facts and links, `pending` ones not uploaded yet. An officer sees their own entries."""
        return photos.of_task(principal, task_kind.value, task_id)


def upload_routes(max_photo_bytes: int) -> list[type[Controller]]:
    """The photo routes, with the request body limit of the upload routes set to the
    largest photo: Litestar enforces `request_max_body_size` while the body streams (and
    on Content-Length up front), and the app-wide limit is far below a photo's size."""
    bounded = type(
        "UploadController", (UploadController,), {"request_max_body_size": max_photo_bytes}
    )
    return [bounded, PhotoController]
