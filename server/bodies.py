"""JSON request bodies are held to their types strictly, as the OpenAPI document says.

Litestar converts a handler's `data` leniently (msgspec's strict=False, which query and
path parameters need since they arrive as text): `"officer_id": "7"` became 7 and
`"active": 0` became false, so a body the document calls invalid was acted on. This
hook decodes the body strictly before Litestar does; a fault raises msgspec's error,
which server/problems.py answers with 400 `validation_failed` naming the field.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import msgspec
from litestar import Request
from litestar.enums import RequestEncodingType


@cache
def _decoder(annotation: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(annotation)


async def decode_json_body_strictly(request: Request[Any, Any, Any]) -> None:
    """A before_request hook for every route: those without a JSON `data` pass through."""
    field = request.route_handler.parsed_fn_signature.parameters.get("data")
    if field is None:
        return
    if getattr(field.kwarg_definition, "media_type", None) != RequestEncodingType.JSON:
        return
    body = await request.body()
    if body:  # an empty one is Litestar's to answer, as before (missing, or an optional body)
        _decoder(field.annotation).decode(body)
