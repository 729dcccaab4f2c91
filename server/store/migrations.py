"""Named, recorded schema migrations (sqlite-utils' Migrations).

Never edit an applied migration: add the next one. A database made by any earlier
release is brought up to date in place when the store opens it
(tests/store/test_migrations.py keeps a file from the first release's schema).
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("beatsync")


@migrations(name="m001_initial")
def m001_initial(db: Database) -> None:
    _run(
        db,
        """
        CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
        INSERT INTO counters (name, value) VALUES ('seq', 0);

        CREATE TABLE units (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            level TEXT NOT NULL CHECK (level IN ('city', 'county', 'station')),
            parent_id TEXT REFERENCES units(id),
            city_id TEXT NOT NULL,
            county_id TEXT,
            station_id TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX units_parent ON units(parent_id);

        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            login TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            unit_id TEXT NOT NULL REFERENCES units(id),
            city_id TEXT NOT NULL,
            county_id TEXT,
            station_id TEXT,
            active INTEGER NOT NULL DEFAULT 1,
            password_hash TEXT NOT NULL,
            demo_password INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX users_unit ON users(unit_id);
        CREATE INDEX users_station ON users(station_id);
        CREATE INDEX users_county ON users(county_id);

        CREATE TABLE grids (
            code TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('village', 'community')),
            station_id TEXT NOT NULL REFERENCES units(id),
            county_id TEXT NOT NULL,
            city_id TEXT NOT NULL,
            officer_id INTEGER REFERENCES users(id),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX grids_station ON grids(station_id);

        CREATE TABLE devices (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            device_id TEXT NOT NULL,
            name TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            revoked_at TEXT,
            revoked_by INTEGER,
            UNIQUE (user_id, device_id)
        );

        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            device_pk INTEGER NOT NULL REFERENCES devices(id),
            created_at TEXT NOT NULL,
            revoked_at TEXT,
            revoke_reason TEXT
        );
        CREATE INDEX sessions_device ON sessions(device_pk);

        CREATE TABLE refresh_tokens (
            token_hash TEXT PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id),
            issued_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_at TEXT
        );
        CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);

        CREATE TABLE login_failures (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX login_failures_key ON login_failures(key, at);

        CREATE TABLE warnings (
            id INTEGER PRIMARY KEY,
            client_id INTEGER NOT NULL REFERENCES users(id),
            platform_id TEXT NOT NULL,
            payload_hash TEXT NOT NULL,
            resident_name TEXT NOT NULL,
            resident_phone TEXT NOT NULL,
            resident_address TEXT NOT NULL,
            resident_id_number TEXT,
            grid_code TEXT NOT NULL,
            county_code TEXT,
            source TEXT NOT NULL,
            fraud_type TEXT NOT NULL,
            risk_level TEXT NOT NULL,
            summary TEXT,
            issued_at TEXT NOT NULL,
            deadline_at TEXT NOT NULL,
            state TEXT NOT NULL,
            city_id TEXT NOT NULL,
            county_id TEXT,
            station_id TEXT,
            officer_id INTEGER REFERENCES users(id),
            queue TEXT NOT NULL,
            routing_reason TEXT,
            outcome TEXT,
            cancel_reason TEXT,
            dispatched_at TEXT,
            version INTEGER NOT NULL DEFAULT 1,
            seq INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (client_id, platform_id)
        );
        CREATE INDEX warnings_officer ON warnings(officer_id, deadline_at);
        CREATE INDEX warnings_station ON warnings(station_id, deadline_at);
        CREATE INDEX warnings_county ON warnings(county_id, deadline_at);
        CREATE INDEX warnings_city ON warnings(city_id, deadline_at);
        CREATE INDEX warnings_seq ON warnings(seq);

        CREATE TABLE publicity_tasks (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            grid_code TEXT NOT NULL REFERENCES grids(code),
            city_id TEXT NOT NULL,
            county_id TEXT NOT NULL,
            station_id TEXT NOT NULL,
            venue_kind TEXT NOT NULL,
            audience TEXT NOT NULL,
            window_start TEXT NOT NULL,
            window_end TEXT NOT NULL,
            status TEXT NOT NULL,
            notes TEXT,
            created_by INTEGER NOT NULL REFERENCES users(id),
            version INTEGER NOT NULL DEFAULT 1,
            seq INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX publicity_station ON publicity_tasks(station_id, window_start);
        CREATE INDEX publicity_county ON publicity_tasks(county_id, window_start);
        CREATE INDEX publicity_city ON publicity_tasks(city_id, window_start);

        CREATE TABLE publicity_assignees (
            task_id INTEGER NOT NULL REFERENCES publicity_tasks(id),
            officer_id INTEGER NOT NULL REFERENCES users(id),
            PRIMARY KEY (task_id, officer_id)
        );
        CREATE INDEX publicity_assignees_officer ON publicity_assignees(officer_id);

        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor_user_id INTEGER,
            actor_device_id TEXT,
            action TEXT NOT NULL,
            entity TEXT NOT NULL,
            entity_id TEXT NOT NULL,
            city_id TEXT,
            county_id TEXT,
            station_id TEXT,
            before TEXT,
            after TEXT,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE INDEX audit_entity ON audit_log(entity, entity_id);
        CREATE INDEX audit_station ON audit_log(station_id, id);
        CREATE INDEX audit_county ON audit_log(county_id, id);
        CREATE INDEX audit_city ON audit_log(city_id, id);
        """,
    )


@migrations(name="m002_grids_by_officer")
def m002_grids_by_officer(db: Database) -> None:
    # Moving or disabling an officer looks up the grids they answer for.
    db.execute("CREATE INDEX grids_officer ON grids(officer_id)")


def _run(db: Database, script: str) -> None:
    # Statement by statement: sqlite3's executescript() would COMMIT the migration's
    # transaction half-way and break the all-or-nothing promise.
    for statement in script.split(";\n"):
        if statement.strip():
            db.execute(statement)


def apply(db: Database) -> list[str]:
    """Apply pending migrations; return the names applied now."""
    pending = [m.name for m in migrations.pending(db)]
    migrations.apply(db)
    return pending


def applied(db: Database) -> list[str]:
    return [m.name for m in migrations.applied(db)]
