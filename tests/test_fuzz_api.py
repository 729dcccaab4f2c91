"""Schemathesis against the app's own OpenAPI document, in process.

The project's standard, checked on generated input rather than chosen examples: bad
input gets a problem document (RFC 9457, a stable code, the field at fault) and changes
nothing; nothing gets a 500; every answer is what the document says it is. Each role
runs every operation on its own fresh city, so one role's changes (an administrator
moving a person, say) cannot starve another's run.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import msgspec
import pytest
import schemathesis
from litestar import Litestar
from schemathesis import Case, CheckContext, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi import checks as st_checks

from server.app import create_app
from server.auth.passwords import Passwords
from server.auth.schemas import ClientTokenIn, LoginIn
from server.auth.service import AuthService
from server.clock import ManualClock
from server.errors import ERROR_TABLE, AuthError, ErrorCode
from server.publicity.schemas import PublicityTaskIn
from server.publicity.service import PublicityService
from server.publicity.vocab import Audience, VenueKind
from server.settings import Settings
from server.store.interface import Store
from server.store.opening import open_store
from server.warnings.service import WarningService
from tests.support.api import a_warning
from tests.support.city import PASSWORD, PLATFORM_SECRET, TinyCity, build_tiny_city

# The login family and health take no token: fuzzing them once, anonymously, is enough.
PUBLIC_OPERATIONS = [
    "login",
    "refreshToken",
    "platformToken",
    "health",
    "createSession",
    "refreshSession",
    "changePassword",
]
# These hold the request open until something changes or a wait of seconds runs out, by
# design (server-sent events, long poll): a fuzzer waiting out each case would take
# minutes. Their inputs are bounded integers; their own tests cover them.
LONG_LIVED_OPERATIONS = ["syncEvents", "syncWait", "escalationEvents", "reportEvents"]
ROLES = ["o1", "sup1", "admin", "platform"]

CONFIG = schemathesis.Config.from_dict(
    {
        # Fixed, so that CI and a developer see the same cases and a failure reproduces.
        "seed": 20261125,
        "generation": {
            "mode": "all",
            "max-examples": 25,
            "deterministic": True,
            "database": "none",
            # Tokens are the caller's, sent below; generated ones would only be refused.
            "with-security-parameters": False,
        },
        # Links between operations are not declared, so a stateful run would learn nothing.
        "phases": {"stateful": {"enabled": False}},
        # tus refuses a bad upload request with statuses of its own (412 a wrong or missing
        # Tus-Resumable, 413, 423, 460 a chunk that fails its checksum): refusals all the same.
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [
                    *("400", "401", "403", "404", "405", "406", "409", "412", "413", "415"),
                    *("416", "422", "423", "428", "429", "460", "5xx"),
                ]
            }
        },
    }
)

# tus PATCH (and creation-with-upload) bodies are raw bytes under tus' own media type.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")

CHECKS: list[Callable[..., Any]] = [
    not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_headers_conformance,
    st_checks.response_schema_conformance,
    st_checks.negative_data_rejection,
    st_checks.missing_required_header,
    st_checks.unsupported_method,
    # Left out on purpose:
    # - positive_data_acceptance: a well-formed request is rightly refused with 403 (role),
    #   404 (an id not in the caller's jurisdiction), 409 or 422 (state, references); the
    #   problem check below holds those answers to the standard instead.
    # - ignored_auth: it re-sends every request without a token, doubling the run;
    #   tests/test_error_shape.py proves each route refuses a caller without one.
    # - use_after_free, ensure_resource_availability, object_level_authorization: they
    #   follow links between operations, which only a stateful run makes.
    # - max_response_time: timing on a shared CI machine is not this test's concern.
]


def problem_document(ctx: CheckContext, response: schemathesis.Response, case: Case) -> None:
    """Every error is application/problem+json with a known code matching the status."""
    if response.status_code < 400:
        return
    if case.method.upper() == "HEAD":
        return  # an answer to HEAD has no body by definition: the status says it all
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith("application/problem+json"), content_type
    body = response.json()
    assert body.get("code") in set(ErrorCode), body
    assert body["status"] == response.status_code == ERROR_TABLE[ErrorCode(body["code"])][0], body
    if body["code"] == ErrorCode.VALIDATION_FAILED:
        assert body.get("field"), f"no field at fault: {body}"


def item_verdicts(ctx: CheckContext, response: schemathesis.Response, case: Case) -> None:
    """A batch answers a bad item inside its 200, alone: it must say so, with a code."""
    if response.status_code != 200:
        return
    body = response.json()
    rejected = [r for r in body["results"] if r["status"] == "rejected"]
    for result in rejected:
        assert result["problem"]["code"], result
    if operation_id(case) == "ingestWarnings":
        assert body["rejected"] == len(rejected), body
        for result in rejected:
            code = result["problem"]["code"]
            assert code in set(ErrorCode), result
            assert result["problem"]["status"] == ERROR_TABLE[ErrorCode(code)][0], result
    if case.meta is not None and case.meta.generation.mode is GenerationMode.NEGATIVE:
        assert rejected, f"a schema-violating batch was taken whole: {body}"


# Batches decode each item alone so that one bad item is refused without the rest (see
# their handlers): a 200 listing that item as rejected is their answer to bad input, and
# item_verdicts holds it to the standard in place of negative_data_rejection.
BATCH_OPERATIONS = {"ingestWarnings", "syncPush"}


def operation_id(case: Case) -> str | None:
    value = case.operation.definition.raw.get("operationId")
    return value if isinstance(value, str) else None


def checks_for(case: Case) -> list[Callable[..., Any]]:
    if operation_id(case) in BATCH_OPERATIONS:
        kept = [c for c in CHECKS if c is not st_checks.negative_data_rejection]
        return [*kept, problem_document, item_verdicts]
    return [*CHECKS, problem_document]


class Caller:
    """One role's session, opened again whenever a fuzzed request ended it.

    Logging out and revoking one's own device are valid requests the fuzzer makes; without
    a fresh session every later case of the run would stop at 401.
    """

    def __init__(self, app: Litestar, login: str) -> None:
        self.service: AuthService = app.state.auth_service
        self.login = login
        self.opened = 0
        self.token = self._open()

    def _open(self) -> str:
        self.opened += 1
        if self.login == "platform":
            pair = self.service.client_token(
                ClientTokenIn(client_id="platform", client_secret=PLATFORM_SECRET), "fuzz"
            )
        else:
            device = f"fuzz-{self.opened:04d}"
            pair = self.service.login(
                LoginIn(login=self.login, password=PASSWORD, device_id=device), "fuzz"
            )
        return pair.access_token

    def headers(self) -> dict[str, str]:
        try:
            self.service.authenticate(self.token)
        except AuthError:
            self.token = self._open()
        return {"Authorization": f"Bearer {self.token}"}


def changes(store: Store) -> tuple[int, int]:
    """Where the change sequence and the audit chain stand: any write moves one of them."""
    entries = store.list_audit(after_id=0, limit=1_000_000)
    return store.current_seq(), entries[-1].id if entries else 0


def seed(app: Litestar, store: Store, city: TinyCity) -> None:
    """A few records, so that small generated ids find something to read and change.

    Made through the services, not over HTTP: a second client would start the app's
    lifespan a second time beside schemathesis' own.
    """
    service: AuthService = app.state.auth_service
    platform = service.authenticate(Caller(app, "platform").token)
    batch = {"warnings": [a_warning(), a_warning("411602001002"), a_warning("411621001001")]}
    ingested = WarningService(store).ingest(platform, msgspec.json.encode(batch))
    assert ingested.created == 3, ingested
    task = PublicityTaskIn(
        title="反诈宣传进社区",
        grid_code="411602001001",
        venue_kind=VenueKind.SQUARE,
        audience=Audience.ELDERLY,
        window_start=date(2026, 11, 20),
        window_end=date(2026, 12, 5),
        officer_ids=[city.id("o1"), city.id("o2")],
    )
    PublicityService(store).create(service.authenticate(Caller(app, "sup1").token), task)


class World(msgspec.Struct, kw_only=True):
    app: Litestar
    store: Store
    caller: Caller | None


def make_world(directory: Path, passwords: Passwords, login: str | None) -> World:
    """An app on its own SQLite file and tiny city, seeded, with a live session for login."""
    path = directory / "beatsync.db"
    clock = ManualClock()
    store = open_store(str(path), clock)
    city = build_tiny_city(store, passwords)
    settings = Settings(
        env="test", database_path=str(path), argon2_time_cost=1, argon2_memory_kib=1024
    )
    app = create_app(settings, store=store, clock=clock, passwords=passwords)
    seed(app, store, city)
    return World(app=app, store=store, caller=Caller(app, login) if login else None)


# The document comes from a real app, served over ASGI like any client would fetch it.
# It is built at import, before any fixture exists, because schemathesis turns each
# operation into its own test when the module is collected; the requests themselves go
# to each test's own app (see `world`). (schemathesis.pytest.from_fixture would load it
# from a fixture instead, but it reads a node attribute pytest 9.2 no longer has.)
def load_schema() -> Any:
    with tempfile.TemporaryDirectory(prefix="beatsync-fuzz-") as directory:
        describing = make_world(Path(directory), Passwords(time_cost=1, memory_kib=1024), None)
        try:
            return schemathesis.openapi.from_asgi(
                "/schema/openapi.json", describing.app, config=CONFIG
            )
        finally:
            describing.store.close()


schema = load_schema()


@pytest.fixture(scope="module", params=ROLES)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, passwords: Passwords
) -> Iterator[World]:
    """One city per role, shared by that role's operations, so the module stays quick."""
    the_world = make_world(tmp_path_factory.mktemp(request.param), passwords, request.param)
    yield the_world
    # Whatever the run changed, it changed through whole transactions.
    verdict = the_world.store.verify_audit()
    the_world.store.close()
    assert verdict.ok, verdict


@pytest.fixture(scope="module")
def anonymous(tmp_path_factory: pytest.TempPathFactory, passwords: Passwords) -> Iterator[World]:
    the_world = make_world(tmp_path_factory.mktemp("anonymous"), passwords, None)
    yield the_world
    the_world.store.close()


def refused(case: Case, response: schemathesis.Response) -> bool:
    if response.status_code >= 400:
        return True
    if operation_id(case) in BATCH_OPERATIONS and response.status_code == 200:
        return all(r["status"] == "rejected" for r in response.json()["results"])
    return False


def call_and_check(case: Case, world: World) -> None:
    before = changes(world.store)
    headers = world.caller.headers() if world.caller else None
    response = case.call_and_validate(app=world.app, headers=headers, checks=checks_for(case))
    if refused(case, response):
        assert changes(world.store) == before, "a refused request changed something"


@schema.exclude(operation_id=PUBLIC_OPERATIONS + LONG_LIVED_OPERATIONS).parametrize()
def test_every_operation_as_each_role(case: Case, world: World) -> None:
    call_and_check(case, world)


@schema.include(operation_id=PUBLIC_OPERATIONS).parametrize()
def test_public_operations_anonymously(case: Case, anonymous: World) -> None:
    call_and_check(case, anonymous)
