"""The `beatsync` command: serve the API, check the audit chain, write the OpenAPI file."""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from server.settings import SettingsError, load_settings

if TYPE_CHECKING:
    from server.demo import DemoAccounts
    from server.store.interface import Store


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        code: int = args.run(args)
    except SettingsError as exc:
        print(f"beatsync: {exc}", file=sys.stderr)
        return 2
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="beatsync", description=__doc__)
    commands = parser.add_subparsers(title="commands")

    serve = commands.add_parser("serve", help="run the API server")
    serve.add_argument(
        "--demo",
        action="store_true",
        help="seed the demo city into an empty database and feed it warnings",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument("--db", help="SQLite file (default: $BEATSYNC_DATABASE)")
    serve.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="N",
        help="serve from N processes sharing the port and the database (default 1)",
    )
    serve.add_argument(
        "--feed-interval", type=float, default=10.0, help="demo: seconds between warning deliveries"
    )
    serve.add_argument(
        "--history-days",
        type=_days,
        default=35,  # server.demo_history.DEFAULT_HISTORY_DAYS, not imported: start-up stays quick
        metavar="N",
        help="demo: on first start, live N days of the city's past before now (0: none)",
    )
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser(
        "migrate",
        help="bring the database's schema up to this release (serve refuses one that is behind)",
    )
    migrate.add_argument("--db", help="SQLite file (default: $BEATSYNC_DATABASE)")
    migrate.add_argument(
        "--check",
        action="store_true",
        help="change nothing: list the pending migrations and exit 1 if there are any",
    )
    migrate.set_defaults(run=_migrate)

    openapi = commands.add_parser("openapi", help="write or check openapi/openapi.json")
    openapi.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if the committed document differs from the code",
    )
    openapi.set_defaults(run=_openapi)

    audit = commands.add_parser("audit", help="the tamper-evident audit log")
    audit_commands = audit.add_subparsers(title="audit commands")
    verify = audit_commands.add_parser("verify", help="check every link of the audit chain")
    verify.add_argument("--db", help="SQLite file (default: $BEATSYNC_DATABASE)")
    verify.add_argument(
        "--anchor",
        metavar="ID:HASH",
        help="an entry's id and hash printed by an earlier verify: fail if it is gone",
    )
    verify.set_defaults(run=_audit_verify)

    load = commands.add_parser(
        "import",
        help="load a units, grids or users CSV sheet into the database, all rows or none",
    )
    load.add_argument("kind", choices=["units", "grids", "users"], help="what the sheet lists")
    load.add_argument("file", type=Path, help="the CSV file (UTF-8 or GBK, as Excel saves it)")
    load.add_argument("--db", help="SQLite file (default: $BEATSYNC_DATABASE)")
    load.add_argument("--dry-run", action="store_true", help="check and count; write nothing")
    load.set_defaults(run=_import)

    users = commands.add_parser("users", help="people who log in")
    users_commands = users.add_subparsers(title="users commands")
    create_admin = users_commands.add_parser(
        "create-admin",
        help="add a city administrator and print a one-time password, to choose one's own by",
    )
    create_admin.add_argument("login", help="the administrator's login")
    create_admin.add_argument("--name", required=True, help="their name, as staff know them")
    create_admin.add_argument("--unit", required=True, help="the city's unit code")
    create_admin.add_argument("--db", help="SQLite file (default: $BEATSYNC_DATABASE)")
    create_admin.set_defaults(run=_create_admin)

    backup = commands.add_parser(
        "backup",
        help="copy the database and its photos into a new folder, while the server runs",
    )
    backup.add_argument("dest", type=Path, help="a new or empty folder for this backup")
    backup.add_argument("--db", help="SQLite file (default: $BEATSYNC_DATABASE)")
    backup.set_defaults(run=_backup)

    restore = commands.add_parser(
        "restore",
        help="put a backup back in place of the database and photos; stop the server first",
    )
    restore.add_argument("src", type=Path, help="a folder written by `beatsync backup`")
    restore.add_argument("--db", help="SQLite file to write (default: $BEATSYNC_DATABASE)")
    restore.add_argument(
        "--force",
        action="store_true",
        help="replace a database and photo folder that are not empty",
    )
    restore.set_defaults(run=_restore)
    return parser


def _days(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days (0 or more)")
    return int(text)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import create_app
    from server.auth.passwords import Passwords
    from server.demo import (
        ACCOUNTS,
        DEMO_PASSWORD,
        DEMO_PLATFORM_SECRET,
        DemoPlatform,
    )
    from server.demo_history import seed_demo
    from server.logs import configure_logging, get_logger
    from server.store.opening import shown
    from server.webapp import app_dir, is_built

    settings = load_settings(database_path=args.db)
    if args.demo and settings.env == "production":
        print("beatsync: --demo is refused when BEATSYNC_ENV=production", file=sys.stderr)
        return 2
    settings.check()
    configure_logging(json=settings.log_json, level=settings.log_level)
    app_built = is_built(settings.web_dir)
    if not app_built:
        get_logger("beatsync.cli").warning(
            "web_app_not_built",
            web_dir=str(app_dir(settings.web_dir)),
            detail="/app/ answers 503 until it is built: run the README's first command"
            " (npm ci and npm run build in clients/web)",
        )
    passwords = Passwords(
        time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib
    )
    seeded = False
    if args.demo:
        # Before the server's store opens: the past is lived on a clock of its own.
        seeded = seed_demo(settings, passwords, history_days=args.history_days)
    # The demo's database is this machine's own and is migrated as it opens; any other is
    # migrated deliberately (`beatsync migrate`), never under nodes of an older release.
    store = _open_for_serving(settings.database_path, migrate=args.demo)
    if store is None:
        return 2
    if settings.env == "production" and store.users_with_demo_password():
        store.close()
        print(
            "beatsync: demo accounts are active in this database; production refuses"
            " to start until they are disabled or given real passwords",
            file=sys.stderr,
        )
        return 2
    feed = None
    if args.demo:
        grids = [g.code for g in store.list_grids()]
        base = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}"  # noqa: S104
        officer = store.get_user_by_login(ACCOUNTS.officer)
        showcase = [g.code for g in store.list_grids() if officer and g.officer_id == officer.id]
        feed = DemoPlatform(
            base,
            grids,
            interval=args.feed_interval,
            first_batch=60 if seeded else 3,
            showcase_grids=showcase if seeded else None,
        )
        feed.start()
        _print_demo_banner(
            base,
            shown(settings.database_path),
            ACCOUNTS,
            DEMO_PASSWORD,
            DEMO_PLATFORM_SECRET,
            app_built=app_built,
        )
    served: object
    if args.workers > 1:
        # Each worker opens the database itself (server.app.create_worker_app), from the
        # environment it inherits; this process only supervises them and feeds the demo.
        store.close()
        os.environ.pop("BEATSYNC_DATABASE_URL", None)
        os.environ["BEATSYNC_DATABASE"] = settings.database_path
        served = "server.app:create_worker_app"
    else:
        served = create_app(settings, store=store, passwords=passwords)
    try:
        uvicorn.run(
            served,  # an app, or its factory's import path
            factory=args.workers > 1,
            workers=args.workers if args.workers > 1 else None,
            host=args.host,
            port=args.port,
            log_config=None,
            access_log=False,
            # The client's address is beatsync's own rule (BEATSYNC_TRUSTED_PROXIES,
            # server/proxies.py): uvicorn must not rewrite it from X-Forwarded-For, which
            # it does by default for a peer on 127.0.0.1 (forwarded_allow_ips).
            proxy_headers=False,
            # Phones' event streams never end by themselves: without a bound, a stop would
            # wait for every phone to hang up. They reconnect with Last-Event-ID.
            timeout_graceful_shutdown=5,
        )
    finally:
        if feed is not None:
            feed.stop.set()
        if args.workers == 1:
            store.close()
    return 0


def _open_for_serving(location: str, *, migrate: bool) -> Store | None:
    """The store to serve from, or None after saying on stderr why there is none: a
    database that is behind this release or cannot be reached is refused before a single
    request is taken, in words an operator can act on, not a traceback."""
    from server.clock import SystemClock
    from server.store.errors import PendingMigrations, StoreUnavailable, is_unavailable
    from server.store.opening import open_store, shown

    try:
        return open_store(location, SystemClock(), migrate=migrate)
    except PendingMigrations as exc:
        print(f"beatsync: refusing to serve: {exc}", file=sys.stderr)
    except StoreUnavailable as exc:
        print(f"beatsync: refusing to serve: {exc}", file=sys.stderr)
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        print(
            f"beatsync: refusing to serve: the database at {shown(location)} cannot be"
            f" reached: {exc}",
            file=sys.stderr,
        )
    return None


def _migrate(args: argparse.Namespace) -> int:
    from server.clock import SystemClock
    from server.store.opening import migrate, pending_migrations, shown

    settings = load_settings(database_path=args.db)
    location = settings.database_path
    where = shown(location)
    try:
        pending = pending_migrations(location)
    except Exception as exc:
        print(f"beatsync: cannot read the database at {where}: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if not pending:
            print(f"the database at {where} is up to date")
            return 0
        print(f"the database at {where} has {len(pending)} pending migration(s):")
        for name in pending:
            print(f"  {name}")
        return 1
    applied = migrate(location, SystemClock())
    if applied:
        print(f"applied {len(applied)} migration(s) to {where}:")
        for name in applied:
            print(f"  {name}")
    else:
        print(f"the database at {where} is up to date")
    return 0


def _workers(text: str) -> int:
    number = int(text)
    if not 1 <= number <= 64:
        raise argparse.ArgumentTypeError("workers: 1 to 64 processes")
    return number


def _print_demo_banner(
    base: str,
    db: str,
    accounts: DemoAccounts,
    password: str,
    platform_secret: str,
    *,
    app_built: bool,
) -> None:
    not_built = "" if app_built else "   (not built: npm ci and npm run build in clients/web)"
    print(
        f"""
beatsync demo city on {base}   (database: {db})

  Officers' app: {base}/app/   (as an officer, below){not_built}
  Log in:        POST {base}/api/v1/auth/login
                 {{"login": "...", "password": "{password}", "device_id": "my-phone-1"}}
  API explorer:  {base}/schema/swagger
  Health:        {base}/healthz

  Accounts (password "{password}"):
    city administrator   {accounts.admin}
    county supervisor    {accounts.county_supervisor}
    station supervisor   {accounts.station_supervisor}
    officer              {accounts.officer}
  Warning platform client: {accounts.platform_client} / {platform_secret}
    (POST {base}/api/v1/auth/token; it is already sending warnings)
""",
        flush=True,
    )


def _openapi(args: argparse.Namespace) -> int:
    import tempfile

    from server.app import create_app
    from server.openapi import COMMITTED, render
    from server.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(env="test", database_path=str(Path(tmp) / "o.db")))
        document = render(app)
        app.state.store.close()
    if args.check:
        same = COMMITTED.exists() and COMMITTED.read_bytes() == document
        print(
            "openapi/openapi.json is up to date"
            if same
            else "openapi/openapi.json differs from the code; run: beatsync openapi"
        )
        return 0 if same else 1
    COMMITTED.parent.mkdir(parents=True, exist_ok=True)
    COMMITTED.write_bytes(document)
    print(f"wrote {COMMITTED}")
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    from server.clock import SystemClock
    from server.store.opening import is_postgres, open_store

    settings = load_settings(database_path=args.db)
    if not is_postgres(settings.database_path) and not Path(settings.database_path).exists():
        print(f"beatsync: no database at {settings.database_path}", file=sys.stderr)
        return 2
    anchor = None
    if args.anchor:
        number, _, digest = args.anchor.partition(":")
        if not number.isdigit() or len(digest) != 64:
            print("beatsync: --anchor is ID:HASH, as verify prints it", file=sys.stderr)
            return 2
        anchor = (int(number), digest)
    store = open_store(settings.database_path, SystemClock())
    try:
        verdict = store.verify_audit(anchor)
    finally:
        store.close()
    if verdict.ok:
        print(f"audit chain intact: {verdict.checked} entries")
        if verdict.head_id is not None:
            # Truncating the end leaves a valid chain; only an anchor kept elsewhere shows it.
            print(
                f"anchor: {verdict.head_id}:{verdict.head_hash}\n"
                "  keep it outside this machine; `beatsync audit verify --anchor` with it"
                " later fails if any entry up to it was removed"
            )
        return 0
    print(
        f"audit chain BROKEN at entry {verdict.first_bad_id}: {verdict.reason}"
        f" ({verdict.checked} entries checked)"
    )
    return 1


def _import(args: argparse.Namespace) -> int:
    """Runs as the system, so it may load any city: how the first city and admin get in."""
    from server.auth.passwords import Passwords
    from server.clock import SystemClock
    from server.errors import InputError
    from server.org.schemas import ImportKind
    from server.org.service import OrgService
    from server.store.opening import open_store
    from server.store.records import Actor

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"beatsync: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    settings = load_settings(database_path=args.db)
    passwords = Passwords(
        time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib
    )
    store = open_store(settings.database_path, SystemClock())
    try:
        report = OrgService(store, passwords).import_file(
            ImportKind(args.kind), data, actor=Actor.system(), dry_run=args.dry_run
        )
    except InputError as exc:
        print(f"{args.file}: {exc.detail or exc.code.value}", file=sys.stderr)
        for error in exc.errors or []:
            where = f"line {error.line}, " if error.line is not None else ""
            print(f"{where}{error.field}: {error.reason}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(
        f"{report.kind}: {report.rows} rows, {report.created} created, {report.updated} updated,"
        f" {report.rows - report.created - report.updated} unchanged"
        + (" (dry run: nothing was written)" if report.dry_run else "")
    )
    if report.without_password:
        print(
            f"{report.without_password} users have no password and cannot log in"
            " until an administrator sets one"
        )
    return 0


def _create_admin(args: argparse.Namespace) -> int:
    """How a production city gets its first administrator: no password travels in a file,
    and the one printed here is good once, for choosing their own."""
    from server.auth.passwords import Passwords
    from server.clock import SystemClock
    from server.errors import BeatsyncError
    from server.org.service import OrgService
    from server.store.opening import open_store

    settings = load_settings(database_path=args.db)
    passwords = Passwords(
        time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib
    )
    store = open_store(settings.database_path, SystemClock())
    try:
        made = OrgService(store, passwords).create_admin(args.login, args.name, args.unit)
    except BeatsyncError as exc:
        print(f"beatsync: {exc.detail or exc.code.value}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(f"city administrator '{made.login}' created (user {made.user_id}).")
    print(f"one-time password: {made.initial_password}")
    print(
        "It is shown once. Log in with it at /console/ to choose your own password;"
        " until then it opens nothing else."
    )
    return 0


def _refuse_postgres(command: str, location: str) -> bool:
    """backup and restore copy a SQLite file; a PostgreSQL database has its own tools."""
    from server.store.opening import is_postgres

    if not is_postgres(location):
        return False
    print(
        f"beatsync: {command} copies a SQLite file; on PostgreSQL use pg_dump / pg_restore"
        " (or the server's continuous archiving) and copy BEATSYNC_PHOTO_DIR beside it:"
        " see docs/operations.md",
        file=sys.stderr,
    )
    return True


def _backup(args: argparse.Namespace) -> int:
    from server.backup import BackupError, take

    settings = load_settings(database_path=args.db)
    if _refuse_postgres("backup", settings.database_path):
        return 2
    try:
        manifest = take(settings.database_path, settings.photo_path, str(args.dest))
    except (BackupError, sqlite3.Error, OSError) as exc:
        print(f"beatsync: backup failed: {exc}", file=sys.stderr)
        return 1
    db, photos = manifest.data["database"], manifest.data["photos"]
    print(
        f"backed up {settings.database_path} ({db['bytes']} bytes, seq {db['seq']},"
        f" {len(db['migrations'])} migrations) and {photos['count']} photos"
        f" ({photos['bytes']} bytes) to {args.dest}"
    )
    if photos["missing"]:
        print(f"{len(photos['missing'])} photos were removed meanwhile (unclaimed); see manifest")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from server.backup import BackupError, restore

    settings = load_settings(database_path=args.db)
    if _refuse_postgres("restore", settings.database_path):
        return 2
    print(
        "beatsync restore: the server must be stopped while it runs"
        f" (it replaces {settings.database_path} and {settings.photo_path})",
        file=sys.stderr,
    )
    try:
        manifest = restore(
            str(args.src), settings.database_path, settings.photo_path, force=args.force
        )
    except (BackupError, OSError) as exc:
        print(f"beatsync: restore refused: {exc}", file=sys.stderr)
        return 1
    db, photos = manifest.data["database"], manifest.data["photos"]
    print(
        f"restored the backup of {manifest.data['taken_at']} (seq {db['seq']},"
        f" {photos['count']} photos) to {settings.database_path} and {settings.photo_path};"
        " start the server: it applies any newer migrations"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
