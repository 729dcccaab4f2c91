"""Units, grids, users, devices, sessions and login throttling in SQLite."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from server.clock import iso, parse_iso
from server.errors import ErrorCode, InputError, NotFound
from server.store.records import (
    Actor,
    AuditItem,
    AuthState,
    Device,
    Grid,
    Jurisdiction,
    RefreshOutcome,
    RefreshResult,
    Unit,
    User,
)
from server.store.sqlite.base import to_record
from server.store.sqlite.scope import SQLiteScope, chunks

USER_AUDIT_FIELDS = ("login", "name", "role", "unit_id", "active")
# A grid with its centroid, as given and in the datum given (records.Grid).
_GRIDS = (
    "SELECT g.*, gp.lat, gp.lon, coalesce(gp.datum, 'wgs84') AS datum"
    " FROM grids g LEFT JOIN grid_positions gp ON gp.code = g.code"
)


def _user_view(row: dict[str, Any] | User) -> dict[str, Any]:
    if isinstance(row, User):
        return {f: getattr(row, f) for f in USER_AUDIT_FIELDS}
    return {f: row[f] for f in USER_AUDIT_FIELDS}


def _scope_of(row: dict[str, Any]) -> dict[str, str | None]:
    return {k: row.get(k) for k in ("city_id", "county_id", "station_id")}


def _end_sessions(conn: sqlite3.Connection, user_id: int, now: str) -> None:
    """A disabled user is cut off on every device at once, however they were disabled."""
    conn.execute(
        "UPDATE sessions SET revoked_at = ?, revoke_reason = 'user disabled'"
        " WHERE user_id = ? AND revoked_at IS NULL",
        (now, user_id),
    )


def _leaves_warnings(old: dict[str, Any], row: dict[str, Any]) -> str | None:
    """Why an officer's open warnings must go back to the station queue, if they must."""
    if old["role"] != "officer":
        return None
    if not row["active"]:
        return f"officer {row['login']} was disabled"
    if row["role"] != "officer":
        return f"{row['login']} is no longer an officer"
    if row["station_id"] != old["station_id"]:
        return f"officer {row['login']} moved to another station"
    return None


class SQLiteOrg(SQLiteScope):
    # -- units and grids --------------------------------------------------------------

    def upsert_units(self, units: Sequence[Unit], actor: Actor) -> tuple[int, int]:
        """Insert or update units in one transaction; parents must come first or exist.

        Returns (created, updated). Raises InputError(UNKNOWN_REFERENCE) for a missing parent.
        """
        now = self._now()
        created = updated = 0
        audit: list[AuditItem] = []
        # Units known to exist: the sheet's so far, and parents found stored (siblings
        # share a parent: it is looked up once).
        known: set[str] = set()
        with self.transaction() as conn:
            for unit in units:
                if unit.parent_id is not None and unit.parent_id not in known:
                    _parent_exists(conn, unit)
                    known.add(unit.parent_id)
                known.add(unit.id)
                old = conn.execute("SELECT * FROM units WHERE id = ?", (unit.id,)).fetchone()
                values = (
                    unit.name,
                    unit.level.value,
                    unit.parent_id,
                    unit.city_id,
                    unit.county_id,
                    unit.station_id,
                )
                if old is None:
                    conn.execute(
                        "INSERT INTO units (name, level, parent_id, city_id, county_id,"
                        " station_id, id, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
                        (*values, unit.id, now, now),
                    )
                    created += 1
                    audit.append(
                        (
                            "unit.create",
                            "unit",
                            unit.id,
                            None,
                            {"name": unit.name, "parent_id": unit.parent_id},
                            {
                                "city_id": unit.city_id,
                                "county_id": unit.county_id,
                                "station_id": unit.station_id,
                            },
                        )
                    )
                elif (
                    old["name"],
                    old["level"],
                    old["parent_id"],
                    old["city_id"],
                    old["county_id"],
                    old["station_id"],
                ) != values:
                    conn.execute(
                        "UPDATE units SET name=?, level=?, parent_id=?, city_id=?, county_id=?,"
                        " station_id=?, updated_at=? WHERE id=?",
                        (*values, now, unit.id),
                    )
                    updated += 1
                    audit.append(
                        (
                            "unit.update",
                            "unit",
                            unit.id,
                            {"name": old["name"], "parent_id": old["parent_id"]},
                            {"name": unit.name, "parent_id": unit.parent_id},
                            _scope_of(old),
                        )
                    )
            self._append_audit(conn, audit, actor)
        return created, updated

    def get_unit(self, unit_id: str) -> Unit | None:
        row = self._one("SELECT * FROM units WHERE id = ?", (unit_id,))
        return to_record(row, Unit) if row else None

    def list_units(self, scope: Jurisdiction | None = None) -> list[Unit]:
        """Units within a jurisdiction (the unit itself and everything below it)."""
        if scope is None:
            rows = self._query("SELECT * FROM units ORDER BY level, id")
        elif scope.column == "officer_id":
            # The scope names the officer, not a unit: theirs is the station they work at.
            rows = self._query(
                "SELECT * FROM units WHERE id = (SELECT station_id FROM users WHERE id = ?)",
                (scope.value,),
            )
        else:
            value = scope.value
            rows = self._query(
                f"SELECT * FROM units WHERE {scope.column} = ? OR id = ? ORDER BY level, id",  # noqa: S608
                (value, value),
            )
        return [to_record(r, Unit) for r in rows]

    def upsert_grids(self, grids: Sequence[Grid], actor: Actor) -> tuple[int, int]:
        """Insert or update grids in one transaction. Returns (created, updated)."""
        now = self._now()
        created = updated = 0
        audit: list[AuditItem] = []
        with self.transaction() as conn:
            for grid in grids:
                old = conn.execute("SELECT * FROM grids WHERE code = ?", (grid.code,)).fetchone()
                values = (
                    grid.name,
                    grid.kind.value,
                    grid.station_id,
                    grid.county_id,
                    grid.city_id,
                    grid.officer_id,
                )
                scope = {
                    "city_id": grid.city_id,
                    "county_id": grid.county_id,
                    "station_id": grid.station_id,
                }
                # A grid without a position leaves the stored one alone: a sheet without
                # the columns must not wipe centroids set before.
                position = None if grid.lat is None else (grid.lat, grid.lon, grid.datum.value)
                stored = conn.execute(
                    "SELECT lat, lon, datum FROM grid_positions WHERE code = ?", (grid.code,)
                ).fetchone()
                old_position = stored and (stored["lat"], stored["lon"], stored["datum"])
                moved = position is not None and old_position != position
                after: dict[str, Any] = {
                    "station_id": grid.station_id,
                    "officer_id": grid.officer_id,
                }
                if moved:
                    after["position"] = position
                if old is None:
                    conn.execute(
                        "INSERT INTO grids (name, kind, station_id, county_id, city_id,"
                        " officer_id, code, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
                        (*values, grid.code, now, now),
                    )
                    created += 1
                    audit.append(("grid.create", "grid", grid.code, None, after, scope))
                elif (
                    moved
                    or (
                        old["name"],
                        old["kind"],
                        old["station_id"],
                        old["county_id"],
                        old["city_id"],
                        old["officer_id"],
                    )
                    != values
                ):
                    conn.execute(
                        "UPDATE grids SET name=?, kind=?, station_id=?, county_id=?, city_id=?,"
                        " officer_id=?, updated_at=? WHERE code=?",
                        (*values, now, grid.code),
                    )
                    updated += 1
                    before: dict[str, Any] = {
                        "station_id": old["station_id"],
                        "officer_id": old["officer_id"],
                    }
                    if moved:
                        before["position"] = old_position
                    audit.append(("grid.update", "grid", grid.code, before, after, scope))
                if moved and position is not None:
                    conn.execute(
                        "INSERT INTO grid_positions (code, lat, lon, datum) VALUES (?, ?, ?, ?)"
                        " ON CONFLICT (code) DO UPDATE SET lat = excluded.lat,"
                        " lon = excluded.lon, datum = excluded.datum",
                        (grid.code, *position),
                    )
            self._append_audit(conn, audit, actor)
        return created, updated

    def get_grid(self, code: str) -> Grid | None:
        row = self._one(f"{_GRIDS} WHERE g.code = ?", (code,))
        return to_record(row, Grid) if row else None

    def list_grids(self, scope: Jurisdiction | None = None) -> list[Grid]:
        if scope is None:
            rows = self._query(f"{_GRIDS} ORDER BY g.code")
        else:
            rows = self._query(
                f"{_GRIDS} WHERE g.{scope.column} = ? ORDER BY g.code",
                (scope.value,),
            )
        return [to_record(r, Grid) for r in rows]

    # -- users ------------------------------------------------------------------------

    def upsert_users(
        self, users: Sequence[dict[str, Any]], actor: Actor
    ) -> tuple[list[User], int, int]:
        """Insert or update users by login in one transaction.

        Each dict has login, name, role, unit_id, city_id, county_id, station_id, active,
        and for new users password_hash (and optionally demo_password and
        must_change_password: an initial password, good for one change only). An existing user's
        password is kept unless password_hash is given. Disabling a user ends their sessions,
        and an officer disabled or moved returns their open warnings to the station queue,
        as update_user does. Returns (users, created, updated).
        """
        now = self._now()
        created = updated = 0
        audit: list[AuditItem] = []
        out: list[User] = []
        changed: list[tuple[dict[str, Any], dict[str, Any]]] = []
        with self.transaction() as conn:
            for user in users:
                old = conn.execute(
                    "SELECT * FROM users WHERE login = ?", (user["login"],)
                ).fetchone()
                if old is None:
                    row = conn.execute(
                        "INSERT INTO users (login, name, role, unit_id, city_id, county_id,"
                        " station_id, active, password_hash, demo_password,"
                        " must_change_password, created_at, updated_at)"
                        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING *",
                        (
                            user["login"],
                            user["name"],
                            user["role"],
                            user["unit_id"],
                            user["city_id"],
                            user["county_id"],
                            user["station_id"],
                            int(user.get("active", True)),
                            user["password_hash"],
                            int(user.get("demo_password", False)),
                            int(user.get("must_change_password", False)),
                            now,
                            now,
                        ),
                    ).fetchone()
                    created += 1
                    audit.append(
                        (
                            "user.create",
                            "user",
                            str(row["id"]),
                            None,
                            _user_view(row),
                            _scope_of(row),
                        )
                    )
                else:
                    merged = {**old, **{k: v for k, v in user.items() if k in old}}
                    merged["active"] = int(bool(merged["active"]))
                    if _user_view(merged) == _user_view(old) and "password_hash" not in user:
                        out.append(to_record(old, User))
                        continue
                    row = conn.execute(
                        "UPDATE users SET name=?, role=?, unit_id=?, city_id=?, county_id=?,"
                        " station_id=?, active=?, password_hash=?, demo_password=?,"
                        " must_change_password=?, updated_at=? WHERE id=? RETURNING *",
                        (
                            merged["name"],
                            merged["role"],
                            merged["unit_id"],
                            merged["city_id"],
                            merged["county_id"],
                            merged["station_id"],
                            merged["active"],
                            merged["password_hash"],
                            int(merged.get("demo_password") or 0),
                            int(merged.get("must_change_password") or 0),
                            now,
                            old["id"],
                        ),
                    ).fetchone()
                    updated += 1
                    changed.append((old, row))
                    if old["active"] and not row["active"]:
                        _end_sessions(conn, row["id"], now)
                    audit.append(
                        (
                            "user.update",
                            "user",
                            str(row["id"]),
                            _user_view(old),
                            _user_view(row),
                            _scope_of(row),
                        )
                    )
                out.append(to_record(row, User))
            self._append_audit(conn, audit, actor)
            self._return_open_warnings(conn, changed, now, actor)
        return out, created, updated

    def update_user(self, user_id: int, changes: dict[str, Any], actor: Actor) -> User:
        """Change one user's fields (name, role, unit and its ancestors, active, password).

        Disabling a user revokes all of their sessions in the same transaction; an
        officer disabled, moved to another station or given another role returns their
        open warnings to the station queue (see _return_open_warnings).
        Raises NotFound. Audited as user.update.
        """
        allowed = {
            "name",
            "role",
            "unit_id",
            "city_id",
            "county_id",
            "station_id",
            "active",
            "password_hash",
            "demo_password",
            "must_change_password",
        }
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"cannot change {sorted(unknown)}")
        now = self._now()
        with self.transaction() as conn:
            old = conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
            if old is None:
                raise NotFound(f"user {user_id}")
            values = {k: (int(v) if isinstance(v, bool) else v) for k, v in changes.items()}
            sets = ", ".join(f"{k} = ?" for k in values)
            row = conn.execute(
                f"UPDATE users SET {sets}, updated_at = ? WHERE id = ? RETURNING *",  # noqa: S608
                (*values.values(), now, user_id),
            ).fetchone()
            if old["active"] and not row["active"]:
                _end_sessions(conn, user_id, now)
            if _user_view(old) != _user_view(row):
                self._append_audit(
                    conn,
                    [
                        (
                            "user.update",
                            "user",
                            str(user_id),
                            _user_view(old),
                            _user_view(row),
                            _scope_of(row),
                        )
                    ],
                    actor,
                )
            elif "password_hash" in changes:
                self._append_audit(
                    conn,
                    [("user.password", "user", str(user_id), None, None, _scope_of(row))],
                    actor,
                )
            self._return_open_warnings(conn, [(old, row)], now, actor)
        return to_record(row, User)

    def _return_open_warnings(
        self,
        conn: sqlite3.Connection,
        changed: Sequence[tuple[dict[str, Any], dict[str, Any]]],
        now: str,
        actor: Actor,
    ) -> None:
        """An officer who was disabled, moved to another station or given another role
        will not go to their warnings' residents: the open ones wait in their station's
        queue again (state new, no officer), for the supervisor to assign, instead of
        sitting with nobody coming. Bumps seq and version of each; audited as
        warning.return; the officer's devices learn it through the scope change log."""
        reasons = {row["id"]: why for old, row in changed if (why := _leaves_warnings(old, row))}
        if not reasons:
            return
        warnings = []
        for chunk in chunks(sorted(reasons)):  # a users sheet may disable thousands
            marks = ",".join("?" * len(chunk))
            warnings += conn.execute(
                "SELECT id, state, officer_id, queue, city_id, county_id, station_id"  # noqa: S608
                f" FROM warnings WHERE officer_id IN ({marks})"
                " AND state IN ('new', 'dispatched', 'in_progress') ORDER BY id",
                chunk,
            ).fetchall()
        if not warnings:
            return
        first = self._next_seq(conn, len(warnings))
        conn.executemany(
            "UPDATE warnings SET state = 'new', officer_id = NULL, queue = 'station',"
            " routing_reason = ?, version = version + 1, seq = ?, updated_at = ? WHERE id = ?",
            [(reasons[w["officer_id"]], first + n, now, w["id"]) for n, w in enumerate(warnings)],
        )
        self._append_audit(
            conn,
            [
                (
                    "warning.return",
                    "warning",
                    str(w["id"]),
                    {k: w[k] for k in ("state", "officer_id", "queue")},
                    {
                        "state": "new",
                        "officer_id": None,
                        "queue": "station",
                        "routing_reason": reasons[w["officer_id"]],
                    },
                    _scope_of(w),
                )
                for w in warnings
            ],
            actor,
        )
        self._refresh_scopes(
            conn, [("warning", w["id"], first + n) for n, w in enumerate(warnings)]
        )

    def get_user(self, user_id: int) -> User | None:
        row = self._one("SELECT * FROM users WHERE id = ?", (user_id,))
        return to_record(row, User) if row else None

    def get_user_by_login(self, login: str) -> User | None:
        row = self._one("SELECT * FROM users WHERE login = ?", (login,))
        return to_record(row, User) if row else None

    def list_users(
        self,
        scope: Jurisdiction | None = None,
        role: str | None = None,
        active: bool | None = None,
    ) -> list[User]:
        where, params = ["1 = 1"], []
        if scope is not None:
            column = "id" if scope.column == "officer_id" else scope.column
            where.append(f"{column} = ?")
            params.append(scope.value)
        if role is not None:
            where.append("role = ?")
            params.append(role)
        if active is not None:
            where.append("active = ?")
            params.append(int(active))
        rows = self._query(
            f"SELECT * FROM users WHERE {' AND '.join(where)} ORDER BY id",  # noqa: S608
            params,
        )
        return [to_record(r, User) for r in rows]

    def users_with_demo_password(self) -> int:
        row = self._one("SELECT count(*) AS n FROM users WHERE demo_password = 1 AND active = 1")
        return int(row["n"]) if row else 0

    # -- devices and sessions -----------------------------------------------------------

    def open_session(
        self,
        user_id: int,
        device_id: str,
        device_name: str,
        refresh_hash: str,
        refresh_expires: datetime,
    ) -> tuple[str, Device]:
        """Register or touch the device, open a session with its first refresh token.

        Raises AuthError-free: the caller has checked the password and that the device is
        not revoked. Bumps the device's last_seen. Returns (session id, device).
        """
        now = self._now()
        session_id = secrets.token_urlsafe(16)
        with self.transaction() as conn:
            device = conn.execute(
                "INSERT INTO devices (user_id, device_id, name, first_seen, last_seen)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, device_id)"
                " DO UPDATE SET last_seen = excluded.last_seen, name = excluded.name"
                " RETURNING *",
                (user_id, device_id, device_name, now, now),
            ).fetchone()
            conn.execute(
                "INSERT INTO sessions (id, user_id, device_pk, created_at) VALUES (?, ?, ?, ?)",
                (session_id, user_id, device["id"], now),
            )
            conn.execute(
                "INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at)"
                " VALUES (?, ?, ?, ?)",
                (refresh_hash, session_id, now, iso(refresh_expires)),
            )
        return session_id, to_record(device, Device)

    def get_device(self, user_id: int, device_id: str) -> Device | None:
        row = self._one(
            "SELECT * FROM devices WHERE user_id = ? AND device_id = ?", (user_id, device_id)
        )
        return to_record(row, Device) if row else None

    def get_device_by_pk(self, pk: int) -> Device | None:
        row = self._one("SELECT * FROM devices WHERE id = ?", (pk,))
        return to_record(row, Device) if row else None

    def list_devices(self, user_ids: Iterable[int]) -> list[Device]:
        ids = list(user_ids)
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self._query(
            f"SELECT * FROM devices WHERE user_id IN ({marks}) ORDER BY user_id, id",  # noqa: S608
            ids,
        )
        return [to_record(r, Device) for r in rows]

    def rotate_refresh(
        self, old_hash: str, new_hash: str, new_expires: datetime, retry_window: timedelta
    ) -> RefreshResult:
        """Spend a refresh token and store its successor, atomically.

        A token presented a second time revokes its whole session (reuse detection), with
        one exception: the answer to a refresh can be lost on a village network, so within
        retry_window of the token's first use, while the session is live and the successor
        stored then is unused, presenting it again is a retry. A retry changes nothing: the
        caller derives the successor from the token (new_hash must be the one stored) and
        answers with it again, so retries and concurrent refreshes of one token all get
        the one successor, and no second line of tokens ever exists.
        """
        now = self._now()
        window_start = iso(self.clock.now() - retry_window)
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT t.*, s.user_id, s.revoked_at AS session_revoked FROM refresh_tokens t"
                " JOIN sessions s ON s.id = t.session_id WHERE t.token_hash = ?",
                (old_hash,),
            ).fetchone()
            if row is None:
                return RefreshResult(outcome=RefreshOutcome.UNKNOWN)
            session_id, user_id = row["session_id"], row["user_id"]
            if row["used_at"] is None and row["session_revoked"] is not None:
                return RefreshResult(
                    outcome=RefreshOutcome.REVOKED, session_id=session_id, user_id=user_id
                )
            if row["used_at"] is not None:
                successor = (
                    conn.execute(
                        "SELECT used_at, expires_at FROM refresh_tokens WHERE token_hash = ?",
                        (row["replaced_by"],),
                    ).fetchone()
                    if row["replaced_by"]
                    else None
                )
                if (
                    row["used_at"] >= window_start
                    and row["session_revoked"] is None
                    and row["replaced_by"] == new_hash
                    and successor is not None
                    and successor["used_at"] is None
                ):
                    return RefreshResult(
                        outcome=RefreshOutcome.RETRIED,
                        session_id=session_id,
                        user_id=user_id,
                        expires_at=parse_iso(successor["expires_at"]),
                    )
                conn.execute(
                    "UPDATE sessions SET revoked_at = coalesce(revoked_at, ?),"
                    " revoke_reason = coalesce(revoke_reason, 'refresh token reused')"
                    " WHERE id = ?",
                    (now, session_id),
                )
                return RefreshResult(
                    outcome=RefreshOutcome.REUSED, session_id=session_id, user_id=user_id
                )
            if row["expires_at"] <= now:
                return RefreshResult(
                    outcome=RefreshOutcome.EXPIRED, session_id=session_id, user_id=user_id
                )
            conn.execute(
                "UPDATE refresh_tokens SET used_at = ?, replaced_by = ? WHERE token_hash = ?",
                (now, new_hash, old_hash),
            )
            conn.execute(
                "INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at)"
                " VALUES (?, ?, ?, ?)",
                (new_hash, session_id, now, iso(new_expires)),
            )
            conn.execute(
                "UPDATE devices SET last_seen = ? WHERE id ="
                " (SELECT device_pk FROM sessions WHERE id = ?)",
                (now, session_id),
            )
        return RefreshResult(
            outcome=RefreshOutcome.ROTATED,
            session_id=session_id,
            user_id=user_id,
            expires_at=new_expires,
        )

    def revoke_session(self, session_id: str, reason: str) -> None:
        """End one session (logout). Idempotent."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE sessions SET revoked_at = ?, revoke_reason = ?"
                " WHERE id = ? AND revoked_at IS NULL",
                (self._now(), reason, session_id),
            )

    def revoke_device(self, device_pk: int, actor: Actor) -> Device:
        """Cut a device off: mark it revoked and end its sessions. Audited as device.revoke.

        Raises NotFound. Revoking twice keeps the first revocation time.
        """
        now = self._now()
        with self.transaction() as conn:
            old = conn.execute(
                "SELECT d.*, u.city_id, u.county_id, u.station_id FROM devices d"
                " JOIN users u ON u.id = d.user_id WHERE d.id = ?",
                (device_pk,),
            ).fetchone()
            if old is None:
                raise NotFound(f"device {device_pk}")
            row = conn.execute(
                "UPDATE devices SET revoked_at = coalesce(revoked_at, ?),"
                " revoked_by = coalesce(revoked_by, ?) WHERE id = ? RETURNING *",
                (now, actor.user_id, device_pk),
            ).fetchone()
            conn.execute(
                "UPDATE sessions SET revoked_at = ?, revoke_reason = 'device revoked'"
                " WHERE device_pk = ? AND revoked_at IS NULL",
                (now, device_pk),
            )
            if old["revoked_at"] is None:
                self._append_audit(
                    conn,
                    [
                        (
                            "device.revoke",
                            "device",
                            str(device_pk),
                            {"revoked_at": None},
                            {"revoked_at": now},
                            _scope_of(old),
                        )
                    ],
                    actor,
                )
        return to_record(row, Device)

    def auth_state(self, session_id: str) -> AuthState | None:
        """One read per request: the session's user and device, and whether either is cut off."""
        row = self._one(
            "SELECT s.revoked_at AS s_revoked, s.revoke_reason AS s_reason,"
            " s.handin_at AS s_handin, d.id AS d_id, d.user_id AS d_user_id,"
            " d.device_id AS d_device_id, d.name AS d_name, d.first_seen AS d_first_seen,"
            " d.last_seen AS d_last_seen, d.revoked_at AS d_revoked_at,"
            " d.revoked_by AS d_revoked_by, u.*"
            " FROM sessions s JOIN devices d ON d.id = s.device_pk"
            " JOIN users u ON u.id = s.user_id WHERE s.id = ?",
            (session_id,),
        )
        if row is None:
            return None
        s_revoked, s_reason = row.pop("s_revoked"), row.pop("s_reason")
        s_handin = row.pop("s_handin")
        device = {k[2:]: row.pop(k) for k in list(row) if k.startswith("d_")}
        return AuthState(
            session_id=session_id,
            user=to_record(row, User),
            device=to_record(device, Device),
            session_revoked=s_revoked is not None,
            session_revoked_at=parse_iso(s_revoked) if s_revoked else None,
            session_revoke_reason=s_reason,
            handin_at=parse_iso(s_handin) if s_handin else None,
        )

    def open_handin(self, session_id: str) -> datetime:
        """Mark the session's hand-in begun (the first time only); when it began."""
        with self.transaction() as conn:
            row = conn.execute(
                "UPDATE sessions SET handin_at = coalesce(handin_at, ?) WHERE id = ?"
                " RETURNING handin_at",
                (self._now(), session_id),
            ).fetchone()
        if row is None:
            raise NotFound(f"session {session_id}")
        return parse_iso(row["handin_at"])

    # -- login throttling ----------------------------------------------------------------

    def record_login_failure(self, key: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT INTO login_failures (key, at) VALUES (?, ?)", (key, self._now()))

    def login_failures_since(self, key: str, since: datetime) -> list[datetime]:
        rows = self._query(
            "SELECT at FROM login_failures WHERE key = ? AND at > ? ORDER BY at", (key, iso(since))
        )
        return [datetime.fromisoformat(r["at"]) for r in rows]

    def clear_login_failures(self, key: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM login_failures WHERE key = ?", (key,))


def _parent_exists(conn: sqlite3.Connection, unit: Unit) -> None:
    """InputError(UNKNOWN_REFERENCE) when the unit's parent is neither stored nor earlier on
    its sheet: the whole sheet is refused, as the interface promises, rather than the
    backend's foreign key error escaping."""
    if conn.execute("SELECT 1 FROM units WHERE id = ?", (unit.parent_id,)).fetchone() is None:
        raise InputError(
            f"unit {unit.id}: parent {unit.parent_id} does not exist",
            code=ErrorCode.UNKNOWN_REFERENCE,
            field="parent_id",
        )
