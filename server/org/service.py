"""The organisation: who sees which units, grids and people; changing people; file imports.

Everything is held to the caller's jurisdiction: a record outside it answers exactly like
a missing one. Imports run as a city administrator (held to their city) or, from the
command line, as the system (any city: that is how the first city gets in).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import msgspec

from server.auth.passwords import Passwords
from server.auth.principal import Principal
from server.errors import ConflictError, ErrorCode, FieldError, InputError, NotFound
from server.logs import get_logger
from server.org import csv_import
from server.org.csv_import import LOGIN, parse_grids, parse_units, parse_users
from server.org.schemas import (
    GridOut,
    ImportKind,
    ImportReport,
    InitialPasswordOut,
    UnitOut,
    UserIn,
    UserOut,
    UserPatch,
)
from server.store.interface import Store
from server.store.records import ROLE_LEVEL, Actor, Grid, Level, Role, Unit, User

log = get_logger("beatsync.org")

# Not an Argon2 hash, so no password ever verifies against it ('!' as in /etc/shadow).
UNUSABLE_PASSWORD = "!"  # noqa: S105 - a marker, not a secret
# The fields whose change makes an imported user count as updated, as the store sees it.
USER_FIELDS = ("name", "role", "unit_id", "active")

R = TypeVar("R")


# Letters and digits that read unambiguously aloud and on paper (no 0/O, 1/l/I).
_INITIAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"


def initial_password(length: int = 12) -> str:
    """A one-time password to hand over: 12 of 56 symbols, about 70 bits."""
    return "".join(secrets.choice(_INITIAL_ALPHABET) for _ in range(length))


def has_password(user: User) -> bool:
    return not user.password_hash.startswith(UNUSABLE_PASSWORD)


def unit_out(u: Unit) -> UnitOut:
    return msgspec.convert(u, UnitOut, from_attributes=True)


def grid_out(g: Grid) -> GridOut:
    return msgspec.convert(g, GridOut, from_attributes=True)


def user_out(u: User) -> UserOut:
    return UserOut(
        id=u.id,
        login=u.login,
        name=u.name,
        role=u.role,
        unit_id=u.unit_id,
        city_id=u.city_id,
        county_id=u.county_id,
        station_id=u.station_id,
        active=u.active,
        has_password=has_password(u),
        created_at=u.created_at,
        updated_at=u.updated_at,
    )


def _actor(principal: Principal) -> Actor:
    return Actor(user_id=principal.user_id, device_id=principal.device_id)


def _ancestry(unit: Unit) -> dict[str, Any]:
    return {
        "unit_id": unit.id,
        "city_id": unit.city_id,
        "county_id": unit.county_id,
        "station_id": unit.station_id,
    }


def _name(value: str) -> str:
    name = value.strip()
    if not name:
        raise InputError("name is blank", field="name")
    return name


def _check_level(role: Role, unit: Unit, field: str) -> None:
    if unit.level is not ROLE_LEVEL[role]:
        raise InputError(
            f"a {role} must belong to a {ROLE_LEVEL[role]} unit,"
            f" but '{unit.id}' is a {unit.level} unit",
            field=field,
        )


class _Scope:
    """Store lookups as an import sees them: another city's records do not exist."""

    def __init__(self, store: Store, city_id: str | None) -> None:
        self.store = store
        self.city_id = city_id

    def covers(self, record: Unit | Grid | User) -> bool:
        return self.city_id is None or record.city_id == self.city_id

    def get_unit(self, code: str) -> Unit | None:
        unit = self.store.get_unit(code)
        return unit if unit is not None and self.covers(unit) else None

    def get_user_by_login(self, login: str) -> User | None:
        user = self.store.get_user_by_login(login)
        return user if user is not None and self.covers(user) else None

    def taken_elsewhere(self, record: Unit | Grid | User | None) -> bool:
        """A code or login already used in another city, which an upsert would take over."""
        return record is not None and not self.covers(record)


class _SheetRow(Protocol):
    """One spreadsheet row as the parser reads it: its row number and canonical cells."""

    @property
    def line(self) -> int: ...
    @property
    def cells(self) -> dict[str, str]: ...
    def token(self, column: str) -> str: ...
    def heading(self, column: str) -> str: ...


def _read_sheet(
    data: bytes, aliases: Mapping[str, str], required: tuple[str, ...]
) -> Sequence[_SheetRow]:
    # The parser's own reader, so that a row number here is the one it reports; it also
    # raises the parser's file-level errors (encoding, header) before anything else.
    return csv_import._read_rows(data, aliases, required)


class _Faults:
    """Faults only the service can see (other cities, the importer's own account).

    They are reported together with the parser's, in the same form, so that the
    administrator fixes the whole sheet in one round.
    """

    def __init__(self) -> None:
        self.items: list[FieldError] = []

    def add(self, row: _SheetRow, column: str, reason: str) -> None:
        """A fault of a row, naming the column as the sheet heads it, as the parser does."""
        self.items.append(FieldError(field=row.heading(column), reason=reason, line=row.line))

    def parse(self, parse: Callable[[], R]) -> R:
        """The parser's result; raises its faults and these together, if there are any."""
        try:
            result = parse()
        except InputError as exc:
            if exc.code is not ErrorCode.IMPORT_REJECTED or not exc.errors:
                raise
            self.items.extend(exc.errors)
            raise self._rejection() from exc
        if self.items:
            raise self._rejection()
        return result

    def _rejection(self) -> InputError:
        errors = sorted(self.items, key=lambda e: e.line or 0)
        bad = len({e.line for e in errors})
        detail = (
            "1 row has errors; nothing was imported"
            if bad == 1
            else f"{bad} rows have errors; nothing was imported"
        )
        return InputError(detail, code=ErrorCode.IMPORT_REJECTED, errors=errors)


class OrgService:
    def __init__(self, store: Store, passwords: Passwords) -> None:
        self.store = store
        self.passwords = passwords

    # -- reading -------------------------------------------------------------------------

    def units(self, principal: Principal) -> list[UnitOut]:
        return [unit_out(u) for u in self.store.list_units(principal.jurisdiction)]

    def grids(self, principal: Principal, station_id: str | None) -> list[GridOut]:
        return [
            grid_out(g)
            for g in self.store.list_grids(principal.jurisdiction)
            if station_id is None or g.station_id == station_id
        ]

    def users(self, principal: Principal, role: Role | None, active: bool | None) -> list[UserOut]:
        found = self.store.list_users(
            principal.jurisdiction, role=role.value if role else None, active=active
        )
        return [user_out(u) for u in found]

    def user(self, principal: Principal, user_id: int) -> UserOut:
        return user_out(self._visible_user(principal, user_id))

    def _visible_user(self, principal: Principal, user_id: int) -> User:
        user = self.store.get_user(user_id)
        if user is None or not principal.covers_unit(user):
            raise NotFound(f"user {user_id} not found")
        return user

    def _unit_in_reach(self, principal: Principal, unit_id: str) -> Unit:
        unit = self.store.get_unit(unit_id)
        if unit is None or not principal.covers_unit(unit):
            raise InputError(
                f"unit '{unit_id}' does not exist",
                code=ErrorCode.UNKNOWN_REFERENCE,
                field="unit_id",
            )
        return unit

    # -- people --------------------------------------------------------------------------

    def create_user(self, principal: Principal, data: UserIn) -> UserOut:
        name = _name(data.name)
        if self.store.get_user_by_login(data.login) is not None:
            raise ConflictError(
                f"login '{data.login}' is already taken",
                code=ErrorCode.ALREADY_EXISTS,
                field="login",
            )
        role = Role(data.role)
        unit = self._unit_in_reach(principal, data.unit_id)
        _check_level(role, unit, "unit_id")
        users, _, _ = self.store.upsert_users(
            [
                {
                    "login": data.login,
                    "name": name,
                    "role": role.value,
                    **_ancestry(unit),
                    "active": True,
                    "password_hash": self.passwords.hash(data.password)
                    if data.password
                    else UNUSABLE_PASSWORD,
                    "demo_password": False,
                    # Set by the administrator: good for choosing one's own, no more.
                    "must_change_password": bool(data.password),
                }
            ],
            _actor(principal),
        )
        log.info("user_created", user_id=users[0].id, role=role.value, unit_id=unit.id)
        return user_out(users[0])

    def update_user(self, principal: Principal, user_id: int, data: UserPatch) -> UserOut:
        target = self._visible_user(principal, user_id)
        changes: dict[str, Any] = {}
        if not isinstance(data.name, msgspec.UnsetType):
            changes["name"] = _name(data.name)
        role = target.role if isinstance(data.role, msgspec.UnsetType) else Role(data.role)
        if role is not target.role and target.role is Role.PLATFORM:
            raise ConflictError("a platform client stays a platform client", field="role")
        if target.id == principal.user_id:
            self._check_not_locking_out(role, data.active)
        if isinstance(data.unit_id, msgspec.UnsetType):
            unit_id, blame = target.unit_id, "role"
        else:
            unit_id, blame = data.unit_id, "unit_id"
        if role is not target.role or unit_id != target.unit_id:
            unit = self._unit_in_reach(principal, unit_id)
            _check_level(role, unit, blame)
            changes.update(role=role.value, **_ancestry(unit))
        if not isinstance(data.active, msgspec.UnsetType):
            changes["active"] = data.active
        if not isinstance(data.password, msgspec.UnsetType):
            changes["password_hash"] = self.passwords.hash(data.password)
            changes["demo_password"] = False
            changes["must_change_password"] = True  # an initial password, as any admin sets
        if not changes:
            return user_out(target)
        updated = self.store.update_user(user_id, changes, _actor(principal))
        log.info(
            "user_updated",
            user_id=user_id,
            fields=sorted(k for k in changes if k != "password_hash"),
            password_set="password_hash" in changes,
        )
        if target.active and not updated.active:
            log.warning("user_disabled", user_id=user_id)
        return user_out(updated)

    def create_admin(self, login: str, name: str, unit_id: str) -> InitialPasswordOut:
        """The first city administrator of a fresh database (`beatsync users create-admin`),
        with a one-time password to choose their own by; run as the system."""
        if not LOGIN.pattern.fullmatch(login):
            raise InputError(f"'{login}' is not a login (letters, digits, - and _)", field="login")
        if self.store.get_user_by_login(login) is not None:
            raise ConflictError(
                f"login '{login}' is already taken", code=ErrorCode.ALREADY_EXISTS, field="login"
            )
        unit = self.store.get_unit(unit_id)
        if unit is None or unit.level is not Level.CITY:
            raise InputError(
                f"'{unit_id}' is not a city unit here; import the units sheet first",
                field="unit_id",
            )
        password = initial_password()
        [user], _, _ = self.store.upsert_users(
            [
                {
                    "login": login,
                    "name": _name(name),
                    "role": Role.CITY_ADMIN.value,
                    **_ancestry(unit),
                    "active": True,
                    "password_hash": self.passwords.hash(password),
                    "demo_password": False,
                    "must_change_password": True,
                }
            ],
            Actor.system(),
        )
        log.info("admin_created", user_id=user.id, unit_id=unit.id)
        return InitialPasswordOut(user_id=user.id, login=login, initial_password=password)

    def issue_initial_password(self, principal: Principal, user_id: int) -> InitialPasswordOut:
        """A new one-time password for a person (a first one, or after a lost one): shown
        to the administrator once, never stored but as a hash, and good only for choosing
        the person's own (POST /api/v1/auth/password). Sessions are left as they are."""
        target = self._visible_user(principal, user_id)
        if target.role is Role.PLATFORM:
            raise ConflictError("a platform client has a secret, not a password", field="user_id")
        password = initial_password()
        self.store.update_user(
            user_id,
            {
                "password_hash": self.passwords.hash(password),
                "demo_password": False,
                "must_change_password": True,
            },
            _actor(principal),
        )
        log.info("initial_password_issued", user_id=user_id)
        return InitialPasswordOut(user_id=user_id, login=target.login, initial_password=password)

    @staticmethod
    def _check_not_locking_out(role: Role, active: bool | msgspec.UnsetType) -> None:
        # With no other administrator, nobody could undo it.
        if active is False:
            raise ConflictError("you cannot disable your own account", field="active")
        if role is not Role.CITY_ADMIN:
            raise ConflictError("you cannot give up your own administrator role", field="role")

    # -- imports -------------------------------------------------------------------------

    def import_as(
        self, principal: Principal, kind: ImportKind, data: bytes, *, dry_run: bool
    ) -> ImportReport:
        return self.import_file(
            kind,
            data,
            actor=_actor(principal),
            city_id=principal.city_id,
            own_login=principal.login,
            dry_run=dry_run,
        )

    def import_file(
        self,
        kind: ImportKind,
        data: bytes,
        *,
        actor: Actor,
        city_id: str | None = None,
        own_login: str | None = None,
        dry_run: bool = False,
    ) -> ImportReport:
        """Check a whole file, then store all of it or, on any fault, none of it.

        city_id holds every row to that city (None: the system, any city); own_login is
        the importing administrator, whom the file may not disable or demote.
        Raises InputError(IMPORT_REJECTED) listing every faulty row.
        """
        scope = _Scope(self.store, city_id)
        if kind is ImportKind.UNITS:
            report = self._import_units(data, scope, actor, dry_run)
        elif kind is ImportKind.GRIDS:
            report = self._import_grids(data, scope, actor, dry_run)
        else:
            report = self._import_users(data, scope, actor, own_login, dry_run)
        log.info(
            "org_imported",
            kind=kind.value,
            rows=report.rows,
            created=report.created,
            updated=report.updated,
            without_password=report.without_password,
            dry_run=dry_run,
        )
        return report

    def _import_units(
        self, data: bytes, scope: _Scope, actor: Actor, dry_run: bool
    ) -> ImportReport:
        rows = _read_sheet(data, csv_import.UNIT_HEADERS, csv_import.UNIT_REQUIRED)
        faults = _Faults()
        for row in rows:
            code = row.token("code")
            level = csv_import.LEVEL_WORDS.get(row.token("level").casefold())
            if scope.city_id is None or not code:
                continue
            # Every other unit of the sheet hangs below a city row or a registered unit,
            # and registered ones are looked up within the city: this row is the only way
            # into another city.
            if level is Level.CITY and code != scope.city_id:
                reason = f"“{code}”不是本市；只能导入“{scope.city_id}”的单位"
                faults.add(row, "code", reason)
            elif scope.taken_elsewhere(self.store.get_unit(code)):
                faults.add(row, "code", f"单位编码“{code}”已在其他城市使用")
        units = faults.parse(lambda: parse_units(data, scope.get_unit))
        if dry_run:
            created, updated = _predict(units, lambda u: self.store.get_unit(u.id))
        else:
            created, updated = self.store.upsert_units(units, actor)
        return ImportReport(
            kind=ImportKind.UNITS,
            rows=len(rows),
            created=created,
            updated=updated,
            dry_run=dry_run,
        )

    def _import_grids(
        self, data: bytes, scope: _Scope, actor: Actor, dry_run: bool
    ) -> ImportReport:
        rows = _read_sheet(data, csv_import.GRID_HEADERS, csv_import.GRID_REQUIRED)
        faults = _Faults()
        for row in rows:
            # Stations and officers are looked up within the city; only the code can clash.
            code = row.token("code")
            if code and scope.taken_elsewhere(self.store.get_grid(code)):
                faults.add(row, "code", f"网格编码“{code}”已在其他城市使用")
        grids = faults.parse(lambda: parse_grids(data, scope.get_unit, scope.get_user_by_login))
        if dry_run:
            created, updated = _predict(grids, lambda g: _unplaced(self.store.get_grid(g.code), g))
        else:
            created, updated = self.store.upsert_grids(grids, actor)
        return ImportReport(
            kind=ImportKind.GRIDS,
            rows=len(rows),
            created=created,
            updated=updated,
            dry_run=dry_run,
        )

    def _import_users(
        self,
        data: bytes,
        scope: _Scope,
        actor: Actor,
        own_login: str | None,
        dry_run: bool,
    ) -> ImportReport:
        rows = _read_sheet(data, csv_import.USER_HEADERS, csv_import.USER_REQUIRED)
        has_status = "active" in rows[0].cells
        faults = _Faults()
        for row in rows:
            self._user_faults(row, scope, own_login, has_status, faults)
        parsed = faults.parse(lambda: parse_users(data, scope.get_unit))

        hashes: dict[str, str] = {}
        prepared: list[dict[str, Any]] = []
        created = updated = without_password = 0
        for row_values in parsed:
            old = self.store.get_user_by_login(row_values["login"])
            user, sets_password = self._prepare_user(row_values, old, has_status, hashes, dry_run)
            prepared.append(user)
            if not sets_password and (old is None or not has_password(old)):
                without_password += 1
            if old is None:
                created += 1
            elif sets_password or any(user[f] != getattr(old, f) for f in USER_FIELDS if f in user):
                updated += 1
        if not dry_run:
            _, created, updated = self.store.upsert_users(prepared, actor)
        return ImportReport(
            kind=ImportKind.USERS,
            rows=len(rows),
            created=created,
            updated=updated,
            dry_run=dry_run,
            without_password=without_password,
        )

    def _user_faults(
        self,
        row: _SheetRow,
        scope: _Scope,
        own_login: str | None,
        has_status: bool,
        faults: _Faults,
    ) -> None:
        login = row.token("login")
        old = self.store.get_user_by_login(login) if login else None
        if scope.taken_elsewhere(old):
            faults.add(row, "login", f"警号“{login}”已在其他城市使用")
        elif old is not None and old.role is Role.PLATFORM:
            faults.add(row, "login", f"“{login}”是平台客户端的登录名，不能用文件修改")
        elif login and login == own_login:
            # Words the parser does not know are reported by the parser itself.
            active = csv_import.ACTIVE_WORDS.get(row.token("active").casefold())
            role = csv_import.ROLE_WORDS.get(row.token("role").casefold())
            if has_status and active is False:
                faults.add(row, "active", "这一行会停用你自己的账号")
            if role not in (None, Role.CITY_ADMIN):
                faults.add(row, "role", "这一行会取消你自己的管理员角色")

    def _prepare_user(
        self,
        row: dict[str, Any],
        old: User | None,
        has_status: bool,
        hashes: dict[str, str],
        dry_run: bool,
    ) -> tuple[dict[str, Any], bool]:
        """The row as the store takes it, and whether it gives the user a password.

        The sheet's password is an *initial* one: it is set for a new user, or for one
        who has none yet, never over a password the user already has; otherwise
        re-importing a corrected sheet would reset everybody's password.
        """
        user = {k: v for k, v in row.items() if k != "password"}
        if old is not None and not has_status:
            # A sheet without a status column says nothing about who is disabled:
            # an old export must not bring back an account that was cut off.
            del user["active"]
        password: str | None = row.get("password")
        sets_password = password is not None and (old is None or not has_password(old))
        if sets_password and password is not None and not dry_run:
            # Argon2 is slow on purpose; a city usually hands one initial password to
            # hundreds of people, so each distinct password is hashed once per sheet.
            if password not in hashes:
                hashes[password] = self.passwords.hash(password)
            user["password_hash"] = hashes[password]
            user["demo_password"] = False
            # Shared by a whole sheet and written in plain text: good once, for choosing
            # one's own, and no more (POST /api/v1/auth/password).
            user["must_change_password"] = True
        elif old is None:
            user["password_hash"] = UNUSABLE_PASSWORD
        return user, sets_password


def _unplaced(stored: Grid | None, grid: Grid) -> Grid | None:
    """The stored grid as a row without a centre would leave it: storing keeps the stored
    centre, so a dry run must not count the missing one as a change."""
    if stored is None or grid.lat is not None:
        return stored
    return msgspec.structs.replace(stored, lat=grid.lat, lon=grid.lon, datum=grid.datum)


def _predict(records: Sequence[R], stored: Callable[[R], R | None]) -> tuple[int, int]:
    """(created, updated) that storing these records would report, without storing them."""
    created = updated = 0
    for record in records:
        old = stored(record)
        if old is None:
            created += 1
        elif old != record:
            updated += 1
    return created, updated
