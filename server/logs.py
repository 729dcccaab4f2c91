"""Structured logs: JSON outside a terminal, with request, user and device on every line.

Lines of the standard library's loggers (uvicorn's `uvicorn.error` and `uvicorn.access`,
asyncio, libraries) go through the same processors and renderer, so an operator's log
shipper reads one format, and the redaction below covers them too.

Residents' phone and ID numbers never reach a log line: services log ids, never people,
and the `redact` processor below masks anything shaped like one as a last line of defence.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

# Mainland mobile numbers, landlines with area code, and 18-character resident ID numbers.
# Bounded by anything but ASCII letters and digits, so hex ids do not match, while a
# number run into Chinese text ("电话13800001234") still does.
_PERSONAL = re.compile(
    r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|\d{15}|1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?![0-9A-Za-z])"
)
# Keys whose values this code writes itself and that are never personal.
_TRUSTED_KEYS = frozenset({"request_id", "timestamp", "level", "logger"})
REDACTED = "[redacted]"


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _PERSONAL.sub(REDACTED, value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if key not in _TRUSTED_KEYS:
            event[key] = _scrub(value)
    return event


class _StderrHandler(logging.Handler):
    """Writes to whatever sys.stderr is at the time (tests and daemons redirect it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


# Loggers whose INFO lines are noise for an operator: httpx names every request the
# webhook sender and the demo feed make.
_QUIET = ("httpx", "httpcore")


def _configure_stdlib(renderer: Any, level: int) -> None:
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.contextvars.merge_contextvars,
                structlog.stdlib.add_logger_name,
                structlog.stdlib.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn's own handlers (a log_config) would print plain text beside ours.
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


def configure_logging(*, json: bool | None = None, level: str = "info") -> None:
    """Configure structlog, and the standard library's loggers through the same renderer,
    once for the process; json=None means 'JSON unless a terminal'."""
    use_json = (not sys.stderr.isatty()) if json is None else json
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    _configure_stdlib(renderer, numeric)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        # Looked up per logger, so a redirected sys.stderr (tests, daemons) is honoured.
        logger_factory=lambda *_: structlog.PrintLogger(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
