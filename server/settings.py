"""Settings, read once from the environment.

Every setting has a safe default for the demo; `docs/settings.md` lists them all
(a test fails when one is missing there). Production refuses demo secrets.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Literal

import msgspec

DEMO_JWT_SECRET = "demo-secret-do-not-use-in-production-0000000000"  # noqa: S105

Environment = Literal["demo", "test", "production"]


class SettingsError(Exception):
    """A setting is missing, malformed, or unsafe for the chosen environment."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    env: Environment = "demo"
    database_path: str = "beatsync-demo.db"
    jwt_secret: str = DEMO_JWT_SECRET
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    # Seconds after a refresh token's first use during which presenting it again is a
    # retry (answered with the same successor), not reuse (server/auth/tokens.py).
    refresh_retry_window_seconds: int = 120
    max_request_bytes: int = 4 * 1024 * 1024
    login_max_failures: int = 5
    login_failure_window_seconds: int = 900
    # Peers (IPs or CIDRs, comma-separated) whose X-Forwarded-For / Forwarded headers
    # name the client (server/proxies.py); empty: trust none, the peer is the client.
    trusted_proxies: str = ""
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    scope_retention_hours: int = 72
    change_log_days: int = 30
    maintenance_interval_seconds: int = 3600
    log_json: bool | None = None
    log_level: str = "info"
    # Supervision (server/escalation, server/reports, server/review, server/loop).
    contact_minutes: str = "high=30,medium=120,low=480"
    outcome_minutes: str = "high=120,medium=480,low=1440"
    escalation_step_minutes: int = 30
    escalation_interval_seconds: int = 60
    report_utc_offset_minutes: int = 480
    bulletin_lagging_rate: float = 0.9
    review_distance_m: int = 3000
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_interval_seconds: int = 5
    webhook_max_backoff_seconds: int = 600
    # Photos (server/uploads): where they are kept (empty: a folder beside the database),
    # the largest one taken, unfinished uploads per user, and how long an upload or a
    # photo no visit log claims is kept.
    photo_dir: str = ""
    photo_max_bytes: int = 20 * 1024 * 1024
    upload_quota: int = 30
    upload_expiry_hours: int = 168
    # The built web apps (server/webapp.py); empty: the repository's clients/web/dist.
    web_dir: str = ""
    # Operations (server/health.py): /readyz wants this much free space for photos and
    # the database, in MiB; /metrics wants this bearer token (empty: loopback peers only).
    ready_min_free_mb: int = 1024
    metrics_token: str = ""

    @property
    def photo_path(self) -> str:
        """The photo directory: the setting, else `<database without .db>-photos` beside it."""
        if self.photo_dir:
            return self.photo_dir
        if self.database_path.startswith(("postgresql://", "postgres://")):
            return "beatsync-photos"  # no file to sit beside: BEATSYNC_PHOTO_DIR names it
        base, ext = os.path.splitext(self.database_path)
        return (base if ext else self.database_path) + "-photos"

    def check(self) -> None:
        """Raise SettingsError when these settings must not be used to start."""
        if self.env == "production":
            if self.jwt_secret == DEMO_JWT_SECRET:
                raise SettingsError("BEATSYNC_JWT_SECRET is the demo secret; set a real one")
            if len(self.jwt_secret) < 32:
                raise SettingsError("BEATSYNC_JWT_SECRET must be at least 32 characters")
        if self.access_token_ttl_seconds <= 0 or self.refresh_token_ttl_seconds <= 0:
            raise SettingsError("token lifetimes must be positive")
        if not 0 <= self.refresh_retry_window_seconds <= 600:
            raise SettingsError("BEATSYNC_REFRESH_RETRY_WINDOW must be 0 to 600 seconds")
        if self.login_max_failures <= 0 or self.login_failure_window_seconds <= 0:
            raise SettingsError("login failures and their window must be positive")
        self.trusted_proxy_networks()
        if self.photo_max_bytes <= 0 or self.upload_quota <= 0 or self.upload_expiry_hours <= 0:
            raise SettingsError("photo size, upload quota and upload expiry must be positive")
        self.deadline_minutes()
        if self.escalation_step_minutes <= 0:
            raise SettingsError("BEATSYNC_ESCALATION_STEP_MINUTES must be positive")
        if self.webhook_url and len(self.webhook_secret) < 16:
            raise SettingsError("BEATSYNC_WEBHOOK_SECRET must be at least 16 characters")
        if self.metrics_token and len(self.metrics_token) < 16:
            raise SettingsError("BEATSYNC_METRICS_TOKEN must be at least 16 characters")
        _check_database(self.database_path)
        if self.ready_min_free_mb < 0:
            raise SettingsError("BEATSYNC_READY_MIN_FREE_MB must be 0 or more")

    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        """BEATSYNC_TRUSTED_PROXIES parsed; raises SettingsError on a bad entry."""
        return _networks(self.trusted_proxies)

    def deadline_minutes(self) -> dict[str, tuple[int, int]]:
        """Risk level -> (minutes to first contact, minutes to an outcome)."""
        contact = _per_level("BEATSYNC_CONTACT_MINUTES", self.contact_minutes)
        outcome = _per_level("BEATSYNC_OUTCOME_MINUTES", self.outcome_minutes)
        if set(contact) != set(outcome):
            raise SettingsError("contact and outcome minutes must name the same risk levels")
        return {level: (contact[level], outcome[level]) for level in contact}


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(text: str) -> tuple[IPNetwork, ...]:
    out: list[IPNetwork] = []
    for part in text.split(","):
        if not part.strip():
            continue
        try:
            out.append(ipaddress.ip_network(part.strip(), strict=False))
        except ValueError as exc:
            raise SettingsError(
                f"BEATSYNC_TRUSTED_PROXIES: {part.strip()!r} is not an IP address or CIDR"
            ) from exc
    return tuple(out)


def _check_database(location: str) -> None:
    if "://" in location and not location.startswith(("postgresql://", "postgres://")):
        raise SettingsError(
            "BEATSYNC_DATABASE_URL must be a postgresql:// URL; a SQLite file is named by"
            " its path in BEATSYNC_DATABASE"
        )


def _per_level(name: str, text: str) -> dict[str, int]:
    """'high=30,medium=120,low=480' -> {'high': 30, ...}; every level must be there."""
    out: dict[str, int] = {}
    for part in text.split(","):
        level, _, minutes = part.strip().partition("=")
        if not minutes.strip().isdigit() or int(minutes) <= 0:
            raise SettingsError(f"{name}: {part!r} is not level=minutes")
        out[level.strip()] = int(minutes)
    if set(out) != {"high", "medium", "low"}:
        raise SettingsError(f"{name} must give minutes for high, medium and low")
    return out


# Environment variable -> field. Kept explicit so the documentation test can
# compare it with docs/settings.md.
ENV_VARS: dict[str, str] = {
    "BEATSYNC_ENV": "env",
    "BEATSYNC_DATABASE": "database_path",
    # After BEATSYNC_DATABASE, so that a URL, where both are set, is the one used.
    "BEATSYNC_DATABASE_URL": "database_path",
    "BEATSYNC_JWT_SECRET": "jwt_secret",
    "BEATSYNC_ACCESS_TOKEN_TTL": "access_token_ttl_seconds",
    "BEATSYNC_REFRESH_TOKEN_TTL": "refresh_token_ttl_seconds",
    "BEATSYNC_REFRESH_RETRY_WINDOW": "refresh_retry_window_seconds",
    "BEATSYNC_MAX_REQUEST_BYTES": "max_request_bytes",
    "BEATSYNC_LOGIN_MAX_FAILURES": "login_max_failures",
    "BEATSYNC_LOGIN_FAILURE_WINDOW": "login_failure_window_seconds",
    "BEATSYNC_TRUSTED_PROXIES": "trusted_proxies",
    "BEATSYNC_ARGON2_TIME_COST": "argon2_time_cost",
    "BEATSYNC_ARGON2_MEMORY_KIB": "argon2_memory_kib",
    "BEATSYNC_SCOPE_RETENTION_HOURS": "scope_retention_hours",
    "BEATSYNC_CHANGE_LOG_DAYS": "change_log_days",
    "BEATSYNC_MAINTENANCE_INTERVAL": "maintenance_interval_seconds",
    "BEATSYNC_LOG_JSON": "log_json",
    "BEATSYNC_LOG_LEVEL": "log_level",
    "BEATSYNC_CONTACT_MINUTES": "contact_minutes",
    "BEATSYNC_OUTCOME_MINUTES": "outcome_minutes",
    "BEATSYNC_ESCALATION_STEP_MINUTES": "escalation_step_minutes",
    "BEATSYNC_ESCALATION_INTERVAL": "escalation_interval_seconds",
    "BEATSYNC_REPORT_UTC_OFFSET_MINUTES": "report_utc_offset_minutes",
    "BEATSYNC_BULLETIN_LAGGING_RATE": "bulletin_lagging_rate",
    "BEATSYNC_REVIEW_DISTANCE_M": "review_distance_m",
    "BEATSYNC_WEBHOOK_URL": "webhook_url",
    "BEATSYNC_WEBHOOK_SECRET": "webhook_secret",
    "BEATSYNC_WEBHOOK_INTERVAL": "webhook_interval_seconds",
    "BEATSYNC_WEBHOOK_MAX_BACKOFF": "webhook_max_backoff_seconds",
    "BEATSYNC_PHOTO_DIR": "photo_dir",
    "BEATSYNC_PHOTO_MAX_BYTES": "photo_max_bytes",
    "BEATSYNC_UPLOAD_QUOTA": "upload_quota",
    "BEATSYNC_UPLOAD_EXPIRY_HOURS": "upload_expiry_hours",
    "BEATSYNC_WEB_DIR": "web_dir",
    "BEATSYNC_READY_MIN_FREE_MB": "ready_min_free_mb",
    "BEATSYNC_METRICS_TOKEN": "metrics_token",
}


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build Settings from the environment, then apply explicit overrides (CLI options)."""
    environ = os.environ if environ is None else environ
    raw: dict[str, object] = {}
    for var, field in ENV_VARS.items():
        if var in environ:
            raw[field] = environ[var]
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        # strict=False lets "900" and "true" from the environment become int and bool.
        return msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"bad setting: {exc}") from exc
