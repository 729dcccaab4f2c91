"""The API explorer's own files: Swagger UI served by beatsync, not by a CDN.

Litestar's Swagger page loads its script, styles and icon from a CDN by default; on a
police intranet that reaches no CDN it stays blank. Swagger UI's dist files come instead
from the swagger-ui-py package (Swagger UI itself, Apache-2.0), and are served under the
OpenAPI router's own path, which the auth middleware already leaves public.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from litestar import Router, get
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.params import FromPath
from litestar.response import File

from server.errors import NotFound

SCHEMA_PATH = "/schema"
ASSETS = f"{SCHEMA_PATH}/swagger-ui"
# Only what the page loads: the package also ships Swagger Editor and source maps.
FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}


@cache
def swagger_ui_dir() -> Path:
    """Where swagger-ui-py keeps Swagger UI's dist files; found without importing the
    package, whose own code (Jinja2 templates for other frameworks) is not needed."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed; it is a dependency of beatsync")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


@get("/swagger-ui/{name:str}", include_in_schema=False, sync_to_thread=False)
def swagger_ui_file(name: FromPath[str]) -> File:
    media_type = FILES.get(name)
    if media_type is None:
        raise NotFound(f"no explorer file {name}")
    return File(
        path=swagger_ui_dir() / name,
        media_type=media_type,
        content_disposition_type="inline",
        # The files change only with the package; a day keeps the page quick to reopen.
        headers={"Cache-Control": "public, max-age=86400"},
    )


def explorer_router() -> Router:
    """The router Litestar puts the OpenAPI document and the Swagger page on, with the
    page's files beside them."""
    return Router(SCHEMA_PATH, route_handlers=[swagger_ui_file], include_in_schema=False)


def swagger_plugin() -> SwaggerRenderPlugin:
    return SwaggerRenderPlugin(
        js_url=f"{ASSETS}/swagger-ui-bundle.js",
        css_url=f"{ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS}/favicon-32x32.png'>",
    )
