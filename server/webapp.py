"""The web apps (clients/web, built by Vite into `<web dir>/app/` and `<web dir>/console/`)
served at /app/ (the officers' phone app) and /console/ (the supervisors' console).

Static files with the caching a PWA needs: hashed assets forever, the files that name
them (index.html, the service worker, the manifest) revalidated on every load, so a new
build reaches phones at their next start. Paths that are not files answer index.html
(the app's router owns them), except paths that look like files, which answer 404: a
missing script served as HTML would fail far from its cause.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.response import Redirect

from server.errors import BeatsyncError, ErrorCode, NotFound

APP_PATH = "/app/"
CONSOLE_PATH = "/console/"
# Each app's folder under the web dir, and what a person calls it in an error.
APPS = {"app": "the officers' app", "console": "the supervisors' console"}
# Phones get the officers' app at /; anything else (a supervisor's desk) the console.
_PHONE = re.compile(r"Mobile|Android|iPhone|iPad|HarmonyOS", re.I)
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# Vant sets inline styles, its icon font is a data: URL inside its CSS, and photo
# previews are blob: URLs; nothing else is loosened, so a script injected into a
# resident's name or a note cannot run.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' blob: data:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# Litestar adds "; charset=utf-8" to text/* itself.
MEDIA_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".webmanifest": "application/manifest+json",
    ".json": "application/json",
    ".map": "application/json",
    ".txt": "text/plain",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".wasm": "application/wasm",
}
# Officers open the app on 3G in villages: text is sent gzipped (about a third the size).
_COMPRESSIBLE = frozenset({".html", ".js", ".mjs", ".css", ".webmanifest", ".json", ".svg"})
_MIN_GZIP_BYTES = 1024
_MAX_CACHED_BYTES = 4 * 1024 * 1024
_MAX_CACHED_FILES = 512
# A last segment with one of these endings names a file, never a screen of the app.
_FILE_LIKE = re.compile(r"\.(" + "|".join(e.lstrip(".") for e in MEDIA_TYPES) + r")$", re.I)


def default_web_dir() -> Path:
    """The repository's `clients/web/dist`, beside the `server` package (an editable
    install, as the README's commands make)."""
    return Path(__file__).resolve().parent.parent / "clients" / "web" / "dist"


def app_dir(web_dir: str, name: str = "app") -> Path:
    return (Path(web_dir) if web_dir else default_web_dir()) / name


def is_built(web_dir: str, name: str = "app") -> bool:
    return (app_dir(web_dir, name) / "index.html").is_file()


class AppNotBuilt(BeatsyncError):
    default_code = ErrorCode.APP_NOT_BUILT


@dataclass(frozen=True)
class _Body:
    raw: bytes
    gzipped: bytes | None
    etag: str


class StaticApp:
    """One built app's folder; file contents (and their gzip) are kept in memory, keyed
    by size and modification time, so a rebuild is served at once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[Path, tuple[tuple[int, int], _Body]] = {}

    def resolve(self, relative: str) -> Path | None:
        """The file at `relative` inside the folder, or None. Never a path outside it."""
        if _unsafe(relative):
            return None
        candidate = self.root.joinpath(*[p for p in relative.split("/") if p])
        try:
            # Also refuses a symbolic link out of the folder.
            real = candidate.resolve(strict=True)
            if not real.is_relative_to(self.root.resolve(strict=True)) or not real.is_file():
                return None
        except (OSError, ValueError):
            return None
        return real

    def body(self, path: Path) -> _Body:
        stat = path.stat()
        key = (stat.st_size, stat.st_mtime_ns)
        cached = self._cache.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        raw = path.read_bytes()
        gzipped = None
        if path.suffix.lower() in _COMPRESSIBLE and len(raw) >= _MIN_GZIP_BYTES:
            gzipped = gzip.compress(raw, compresslevel=9, mtime=0)
        body = _Body(raw, gzipped, hashlib.sha256(raw).hexdigest()[:32])
        if len(raw) <= _MAX_CACHED_BYTES:
            if len(self._cache) >= _MAX_CACHED_FILES:
                self._cache.clear()
            self._cache[path] = (key, body)
        return body


def _unsafe(relative: str) -> bool:
    """`..`, `.`, hidden files, backslashes and NULs: never a file of the app, whatever
    the encoding that brought them (the path arrives percent-decoded)."""
    return any(p.startswith(".") or "\\" in p or "\x00" in p for p in relative.split("/"))


def _cache_control(relative: str) -> str:
    # Vite puts a content hash in every name under assets/. The rest (index.html, sw.js,
    # registerSW.js, the manifest, workbox-*.js, icons) keep their names across builds,
    # so they are revalidated on every load; their ETag makes that a 304.
    return IMMUTABLE if relative.startswith("assets/") else REVALIDATE


def _accepts_gzip(request: Request[Any, Any, Any]) -> bool:
    for part in request.headers.get("accept-encoding", "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _not_modified(request: Request[Any, Any, Any], etag: str) -> bool:
    wanted = request.headers.get("if-none-match", "")
    tags = {t.strip().removeprefix("W/") for t in wanted.split(",")}
    return etag in tags or "*" in tags


def _file_response(
    request: Request[Any, Any, Any], static: StaticApp, path: Path, relative: str
) -> Response[bytes]:
    body = static.body(path)
    headers = {
        **SECURITY_HEADERS,
        "Cache-Control": _cache_control(relative),
        "Vary": "Accept-Encoding",
    }
    if path.name == "sw.js":
        headers["Service-Worker-Allowed"] = APP_PATH
    content = body.raw
    etag = f'"{body.etag}"'
    if body.gzipped is not None and _accepts_gzip(request):
        content = body.gzipped
        etag = f'"{body.etag}-gz"'
        headers["Content-Encoding"] = "gzip"
    headers["ETag"] = etag
    media_type = MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
    if _not_modified(request, etag):
        headers.pop("Content-Encoding", None)
        return Response(content=b"", status_code=304, headers=headers, media_type=media_type)
    return Response(content=content, status_code=200, headers=headers, media_type=media_type)


def _static(state: State, name: str) -> StaticApp:
    static: StaticApp = state.webapps[name]
    return static


@get("/", include_in_schema=False, sync_to_thread=False)
def root_redirect(request: Request[Any, Any, Any]) -> Redirect:
    """A phone to the officers' app, a desk to the console: the one address people are
    told works for everyone."""
    phone = _PHONE.search(request.headers.get("user-agent", ""))
    return Redirect(path=APP_PATH if phone else CONSOLE_PATH, status_code=302)


def _shell_or_slash(request: Request[Any, Any, Any], name: str) -> Response[bytes] | Redirect:
    # Litestar routes /app and /app/ alike, but the app's relative URLs need the slash.
    raw = request.scope.get("raw_path") or request.scope["path"].encode()
    if not raw.endswith(b"/"):
        query = request.scope.get("query_string", b"").decode("latin-1")
        return Redirect(path=f"/{name}/" + (f"?{query}" if query else ""), status_code=301)
    return _serve(request, name, "")


@get("/app", include_in_schema=False, sync_to_thread=True)
def app_shell(request: Request[Any, Any, Any]) -> Response[bytes] | Redirect:
    """The officers' app's shell; /app (no slash) first goes to /app/."""
    return _shell_or_slash(request, "app")


@get("/app/{file_path:path}", include_in_schema=False, sync_to_thread=True)
def app_file(request: Request[Any, Any, Any], file_path: FromPath[str]) -> Response[bytes]:
    """A file of the built app, else the shell for the app's own screens."""
    return _serve(request, "app", file_path.lstrip("/"))


@get("/console", include_in_schema=False, sync_to_thread=True)
def console_shell(request: Request[Any, Any, Any]) -> Response[bytes] | Redirect:
    """The console's shell; /console (no slash) first goes to /console/."""
    return _shell_or_slash(request, "console")


@get("/console/{file_path:path}", include_in_schema=False, sync_to_thread=True)
def console_file(request: Request[Any, Any, Any], file_path: FromPath[str]) -> Response[bytes]:
    """A file of the built console, else its shell for the console's own pages."""
    return _serve(request, "console", file_path.lstrip("/"))


def _serve(request: Request[Any, Any, Any], name: str, relative: str) -> Response[bytes]:
    static = _static(request.app.state, name)
    if not (static.root / "index.html").is_file():
        raise AppNotBuilt(
            f"{APPS[name]} is not built on this server: run the README's first command"
            " (it runs `npm ci` and `npm run build` in clients/web)",
            headers=SECURITY_HEADERS,
        )
    if relative:
        found = static.resolve(relative)
        if found is not None:
            return _file_response(request, static, found, relative)
        last = relative.rstrip("/").rsplit("/", 1)[-1]
        if (
            relative.split("/", maxsplit=1)[0] == "assets"
            or _FILE_LIKE.search(last)
            or _unsafe(relative)
        ):
            raise NotFound(f"no such file in {APPS[name]}", headers=SECURITY_HEADERS)
    return _file_response(request, static, static.root / "index.html", "index.html")


ROUTES: list[HTTPRouteHandler] = [root_redirect, app_shell, app_file, console_shell, console_file]
