"""HTTP face of the organisation: units, grids and people, and the spreadsheet imports."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import Body, FromPath, FromQuery, JSONBody, RawBody

from server.auth.passwords import Passwords
from server.auth.principal import Principal
from server.bounds import PathId
from server.guards import admin_only, staff_only, supervisors_only
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
from server.org.service import OrgService
from server.store.interface import Store
from server.store.records import Role


def provide_org_service(
    store: NamedDependency[Store], passwords: NamedDependency[Passwords]
) -> OrgService:
    return OrgService(store, passwords)


def _document_csv_body(  # pragma: no cover - never called
    data: Annotated[
        bytes,
        Body(
            media_type="text/csv",
            description="The sheet saved from Excel or WPS as CSV: UTF-8 (with or without"
            " BOM) or GBK; Chinese or English headers",
        ),
    ],
) -> None:
    """Describes the import body in the OpenAPI document.

    The handler takes the raw bytes whatever the content type, since browsers and
    scripts label a CSV upload in many ways; this unused dependency documents it.
    """


class OrgController(Controller):
    path = "/api/v1"
    tags = ["org"]
    guards = [staff_only]
    dependencies = {"org": Provide(provide_org_service, sync_to_thread=False)}

    @get("/units", operation_id="listUnits", sync_to_thread=True)
    def list_units(
        self, principal: NamedDependency[Principal], org: NamedDependency[OrgService]
    ) -> list[UnitOut]:
        """The caller's unit and every unit below it (an officer: their station)."""
        return org.units(principal)

    @get("/grids", operation_id="listGrids", guards=[supervisors_only], sync_to_thread=True)
    def list_grids(
        self,
        principal: NamedDependency[Principal],
        org: NamedDependency[OrgService],
        station_id: FromQuery[str | None] = None,
    ) -> list[GridOut]:
        """Villages and communities in the caller's jurisdiction, by code."""
        return org.grids(principal, station_id)

    @get("/users", operation_id="listUsers", guards=[supervisors_only], sync_to_thread=True)
    def list_users(
        self,
        principal: NamedDependency[Principal],
        org: NamedDependency[OrgService],
        role: FromQuery[Role | None] = None,
        active: FromQuery[bool | None] = None,
    ) -> list[UserOut]:
        """People (and the city's platform clients) in the caller's jurisdiction, by id."""
        return org.users(principal, role, active)

    @get(
        "/users/{user_id:int}",
        operation_id="getUser",
        guards=[supervisors_only],
        sync_to_thread=True,
    )
    def get_user(
        self,
        principal: NamedDependency[Principal],
        org: NamedDependency[OrgService],
        user_id: PathId,
    ) -> UserOut:
        return org.user(principal, user_id)

    @post(
        "/users",
        operation_id="createUser",
        status_code=201,
        guards=[admin_only],
        sync_to_thread=True,
    )
    def create_user(
        self,
        principal: NamedDependency[Principal],
        org: NamedDependency[OrgService],
        data: JSONBody[UserIn],
    ) -> UserOut:
        """Add a person to a unit of the city; the unit's level must suit the role."""
        return org.create_user(principal, data)

    @patch(
        "/users/{user_id:int}",
        operation_id="updateUser",
        guards=[admin_only],
        sync_to_thread=True,
    )
    def update_user(
        self,
        principal: NamedDependency[Principal],
        org: NamedDependency[OrgService],
        user_id: PathId,
        data: JSONBody[UserPatch],
    ) -> UserOut:
        """Rename, move, change the role of, disable or re-enable a person, or set a password.

        Disabling ends every session at once: the person's next request from any device
        is refused with `user_disabled` and told to wipe. Nobody can disable themself.
        """
        return org.update_user(principal, user_id, data)

    @post(
        "/users/{user_id:int}/initial-password",
        operation_id="issueInitialPassword",
        status_code=200,
        guards=[admin_only],
        sync_to_thread=True,
    )
    def issue_initial_password(
        self,
        principal: NamedDependency[Principal],
        org: NamedDependency[OrgService],
        user_id: PathId,
    ) -> InitialPasswordOut:
        """A one-time password for the person, shown in this answer only: it lets them
        choose their own (POST /api/v1/auth/password) and nothing else; logging in with it
        answers 403 password_change_required. For a new person, or one who lost theirs."""
        return org.issue_initial_password(principal, user_id)


class OrgImportController(Controller):
    path = "/api/v1/admin/imports"
    tags = ["org"]
    guards = [admin_only]
    dependencies = {
        "org": Provide(provide_org_service, sync_to_thread=False),
        "csv_body": Provide(_document_csv_body, sync_to_thread=False),
    }

    @post("/{kind:str}", operation_id="importOrgFile", status_code=200, sync_to_thread=True)
    def import_file(
        self,
        principal: NamedDependency[Principal],
        org: NamedDependency[OrgService],
        kind: FromPath[ImportKind],
        body: RawBody,
        dry_run: FromQuery[bool] = False,
    ) -> ImportReport:
        """Load a units, grids or users sheet of the caller's city: all rows, or none.

        Rows are matched by code (units, grids) or login (users): a corrected file
        updates in place. On any fault the answer is `import_rejected` listing every
        faulty row and column. `dry_run=true` checks and counts without writing.
        A user's password from the sheet is an initial one: it is never set over a
        password the user already has.
        """
        return org.import_as(principal, kind, body, dry_run=dry_run)
