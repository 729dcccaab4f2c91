"""Named, recorded schema migrations (sqlite-utils' Migrations).

Never edit an applied migration: add the next one. A database made by any earlier
release is brought up to date in place when the store opens it
(tests/store/test_migrations.py keeps a file from the first release's schema).
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

from server.store.scope_order import SORT_KEY_SQL, TASK_TABLE

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


@migrations(name="m003_sync")
def m003_sync(db: Database) -> None:
    """Offline sync: visit logs, device scopes with their checksums and change log,
    idempotent mutations, conflicts, and officer-edited fields."""
    _run(
        db,
        """
        ALTER TABLE warnings ADD COLUMN outcome_entry_id TEXT;
        ALTER TABLE warnings ADD COLUMN outcome_officer_id INTEGER;
        ALTER TABLE warnings ADD COLUMN outcome_contact TEXT;
        ALTER TABLE warnings ADD COLUMN outcome_hlc TEXT;
        ALTER TABLE warnings ADD COLUMN first_contact_at TEXT;
        ALTER TABLE warnings ADD COLUMN closed_at TEXT;
        ALTER TABLE publicity_tasks ADD COLUMN closed_at TEXT;
        ALTER TABLE refresh_tokens ADD COLUMN replaced_by TEXT;
        INSERT INTO counters (name, value) VALUES ('hlc_wall', 0), ('hlc_counter', 0),
            ('changes_horizon', 0);

        CREATE TABLE assignment_history (
            task_kind TEXT NOT NULL, task_id INTEGER NOT NULL, officer_id INTEGER NOT NULL,
            PRIMARY KEY (task_kind, task_id, officer_id)
        ) WITHOUT ROWID;

        CREATE TABLE scope_members (
            officer_id INTEGER NOT NULL, task_kind TEXT NOT NULL, task_id INTEGER NOT NULL,
            version INTEGER NOT NULL,
            PRIMARY KEY (officer_id, task_kind, task_id)
        ) WITHOUT ROWID;
        CREATE INDEX scope_members_task ON scope_members(task_kind, task_id);

        CREATE TABLE scope_checksums (
            officer_id INTEGER PRIMARY KEY, checksum TEXT NOT NULL
        );

        CREATE TABLE scope_changes (
            id INTEGER PRIMARY KEY,
            seq INTEGER NOT NULL, officer_id INTEGER NOT NULL, task_kind TEXT NOT NULL,
            task_id INTEGER NOT NULL, op TEXT NOT NULL, reason TEXT, at TEXT NOT NULL
        );
        CREATE INDEX scope_changes_officer ON scope_changes(officer_id, seq);

        CREATE TABLE visit_logs (
            entry_id TEXT PRIMARY KEY,
            task_kind TEXT NOT NULL, task_id INTEGER NOT NULL,
            officer_id INTEGER NOT NULL, device_pk INTEGER NOT NULL, mutation_id TEXT NOT NULL,
            supersedes TEXT, recorded_at TEXT NOT NULL, received_at TEXT NOT NULL,
            arrived_at TEXT, contact TEXT, outcome TEXT, amount_prevented INTEGER, notes TEXT,
            lat REAL, lon REAL, accuracy_m REAL, photos TEXT NOT NULL, held_at TEXT,
            attendance INTEGER, materials TEXT NOT NULL, completed INTEGER NOT NULL,
            hlc TEXT NOT NULL, device_clock_offset_ms INTEGER NOT NULL, flags TEXT NOT NULL,
            seq INTEGER NOT NULL,
            city_id TEXT, county_id TEXT, station_id TEXT
        );
        CREATE INDEX visit_logs_task ON visit_logs(task_kind, task_id);
        CREATE INDEX visit_logs_station ON visit_logs(station_id, received_at);

        CREATE TABLE task_visitors (
            task_kind TEXT NOT NULL, task_id INTEGER NOT NULL, officer_id INTEGER NOT NULL,
            PRIMARY KEY (task_kind, task_id, officer_id)
        ) WITHOUT ROWID;

        CREATE TABLE mutations (
            user_id INTEGER NOT NULL, mutation_id TEXT NOT NULL, content_hash TEXT NOT NULL,
            result TEXT NOT NULL, received_at TEXT NOT NULL,
            PRIMARY KEY (user_id, mutation_id)
        ) WITHOUT ROWID;

        CREATE TABLE rejected_mutations (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL, device_pk INTEGER NOT NULL, mutation_id TEXT NOT NULL,
            code TEXT NOT NULL, detail TEXT NOT NULL, body TEXT NOT NULL,
            received_at TEXT NOT NULL,
            city_id TEXT, county_id TEXT, station_id TEXT
        );
        CREATE INDEX rejected_mutations_station ON rejected_mutations(station_id, id);

        CREATE TABLE conflicts (
            id INTEGER PRIMARY KEY,
            rule TEXT NOT NULL, task_kind TEXT NOT NULL, task_id INTEGER NOT NULL,
            city_id TEXT, county_id TEXT, station_id TEXT,
            officer_ids TEXT NOT NULL, entry_id TEXT, winner TEXT, loser TEXT,
            created_at TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'open',
            resolved_at TEXT, resolved_by INTEGER, resolution TEXT, note TEXT
        );
        CREATE INDEX conflicts_station ON conflicts(station_id, id);
        CREATE INDEX conflicts_county ON conflicts(county_id, id);
        CREATE INDEX conflicts_city ON conflicts(city_id, id);
        CREATE INDEX conflicts_task ON conflicts(task_kind, task_id);

        CREATE TABLE field_values (
            task_kind TEXT NOT NULL, task_id INTEGER NOT NULL, field TEXT NOT NULL,
            value TEXT, hlc TEXT NOT NULL, user_id INTEGER NOT NULL,
            PRIMARY KEY (task_kind, task_id, field)
        ) WITHOUT ROWID;
        """,
    )
    # Work that existed before sync: whoever holds it now has it in scope.
    _run(
        db,
        """
        INSERT INTO assignment_history (task_kind, task_id, officer_id)
            SELECT 'warning', id, officer_id FROM warnings WHERE officer_id IS NOT NULL;
        INSERT INTO assignment_history (task_kind, task_id, officer_id)
            SELECT 'publicity', task_id, officer_id FROM publicity_assignees;
        INSERT INTO scope_members (officer_id, task_kind, task_id, version)
            SELECT officer_id, 'warning', id, version FROM warnings
            WHERE officer_id IS NOT NULL AND state IN ('new', 'dispatched', 'in_progress');
        INSERT INTO scope_members (officer_id, task_kind, task_id, version)
            SELECT a.officer_id, 'publicity', t.id, t.version FROM publicity_tasks t
            JOIN publicity_assignees a ON a.task_id = t.id
            WHERE t.status IN ('planned', 'in_progress')
        """,
    )
    from sync import checksum

    sums: dict[int, str] = {}
    for officer_id, kind, task_id, version in db.execute(
        "SELECT officer_id, task_kind, task_id, version FROM scope_members"
    ).fetchall():
        sums[officer_id] = checksum.toggle(
            sums.get(officer_id, checksum.EMPTY), kind, task_id, version
        )
    for officer_id, value in sums.items():
        db.execute(
            "INSERT INTO scope_checksums (officer_id, checksum) VALUES (?, ?)", [officer_id, value]
        )


@migrations(name="m004_uploads")
def m004_uploads(db: Database) -> None:
    """Photos: resumable uploads (tus), stored photos by sha256, who sent each, and which
    visit logs claim it. Claims are kept by a trigger on visit_logs, so every way a visit
    log is written links its photos, in the same transaction."""
    _run(
        db,
        """
        CREATE TABLE uploads (
            id TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id), device_id TEXT,
            length INTEGER NOT NULL, received INTEGER NOT NULL DEFAULT 0,
            sha256 TEXT NOT NULL, metadata TEXT NOT NULL, filename TEXT, filetype TEXT,
            media_type TEXT, state TEXT NOT NULL CHECK (state IN ('open', 'complete', 'failed')),
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL, expires_at TEXT NOT NULL,
            city_id TEXT, county_id TEXT, station_id TEXT
        );
        CREATE INDEX uploads_user ON uploads(user_id, state);
        CREATE INDEX uploads_expiry ON uploads(state, expires_at);

        CREATE TABLE photos (
            sha256 TEXT PRIMARY KEY,
            size INTEGER NOT NULL, media_type TEXT NOT NULL,
            width INTEGER, height INTEGER, taken_at TEXT, lat REAL, lon REAL,
            thumbnail INTEGER NOT NULL DEFAULT 0,
            uploaded_by INTEGER NOT NULL, received_at TEXT NOT NULL
        );
        CREATE INDEX photos_received ON photos(received_at);

        CREATE TABLE photo_owners (
            sha256 TEXT NOT NULL, user_id INTEGER NOT NULL,
            city_id TEXT, county_id TEXT, station_id TEXT, at TEXT NOT NULL,
            PRIMARY KEY (sha256, user_id)
        ) WITHOUT ROWID;
        CREATE INDEX photo_owners_user ON photo_owners(user_id);

        CREATE TABLE photo_claims (
            sha256 TEXT NOT NULL, entry_id TEXT NOT NULL,
            task_kind TEXT NOT NULL, task_id INTEGER NOT NULL, officer_id INTEGER NOT NULL,
            city_id TEXT, county_id TEXT, station_id TEXT,
            PRIMARY KEY (sha256, entry_id)
        ) WITHOUT ROWID;
        CREATE INDEX photo_claims_task ON photo_claims(task_kind, task_id);
        """,
    )
    # One statement with a body of its own: _run would split it at its inner semicolon.
    db.execute(
        """
        CREATE TRIGGER visit_logs_claim_photos AFTER INSERT ON visit_logs BEGIN
            INSERT OR IGNORE INTO photo_claims
                (sha256, entry_id, task_kind, task_id, officer_id, city_id, county_id,
                 station_id)
            SELECT DISTINCT value, NEW.entry_id, NEW.task_kind, NEW.task_id, NEW.officer_id,
                NEW.city_id, NEW.county_id, NEW.station_id
            FROM json_each(NEW.photos) WHERE json_valid(NEW.photos);
        END;
        """
    )
    _run(
        db,
        """
        INSERT OR IGNORE INTO photo_claims
            (sha256, entry_id, task_kind, task_id, officer_id, city_id, county_id, station_id)
        SELECT DISTINCT j.value, v.entry_id, v.task_kind, v.task_id, v.officer_id, v.city_id,
            v.county_id, v.station_id
        FROM visit_logs v, json_each(v.photos) j WHERE json_valid(v.photos)
        """,
    )


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


def known() -> list[str]:
    """The names of every migration this code has, in order."""
    return [m.name for m in migrations._migrations]


@migrations(name="m005_supervision")
def m005_supervision(db: Database) -> None:
    """Supervision: report indexes, escalation steps, visit reviews, grid centroids, and
    the outcome feed the warning platform polls (filled by a trigger, in the same
    transaction as the change that closed the warning, so no outcome can be lost)."""
    _run(
        db,
        """
        CREATE INDEX warnings_city_created ON warnings(city_id, created_at);
        CREATE INDEX warnings_county_created ON warnings(county_id, created_at);
        CREATE INDEX warnings_station_created ON warnings(station_id, created_at);
        CREATE INDEX warnings_open_created ON warnings(created_at)
            WHERE state IN ('new', 'dispatched', 'in_progress');
        CREATE INDEX visit_logs_supersedes ON visit_logs(supersedes)
            WHERE supersedes IS NOT NULL;
        CREATE INDEX visit_logs_county ON visit_logs(county_id, seq);
        CREATE INDEX visit_logs_city ON visit_logs(city_id, seq);
        CREATE INDEX visit_logs_station_seq ON visit_logs(station_id, seq);
        CREATE INDEX rejected_mutations_user ON rejected_mutations(user_id, id);
        CREATE INDEX mutations_user_received ON mutations(user_id, received_at);
        CREATE INDEX conflicts_entry ON conflicts(entry_id) WHERE entry_id IS NOT NULL;

        CREATE TABLE escalations (
            id INTEGER PRIMARY KEY,
            warning_id INTEGER NOT NULL REFERENCES warnings(id),
            kind TEXT NOT NULL CHECK (kind IN ('contact', 'outcome')),
            level TEXT NOT NULL CHECK (level IN ('station', 'county', 'city')),
            due_at TEXT NOT NULL,
            at TEXT NOT NULL,
            city_id TEXT, county_id TEXT, station_id TEXT,
            UNIQUE (warning_id, kind, level)
        );
        CREATE INDEX escalations_station ON escalations(station_id, id);
        CREATE INDEX escalations_county ON escalations(county_id, id);
        CREATE INDEX escalations_city ON escalations(city_id, id);

        CREATE TABLE visit_reviews (
            entry_id TEXT PRIMARY KEY REFERENCES visit_logs(entry_id),
            task_kind TEXT NOT NULL, task_id INTEGER NOT NULL,
            decision TEXT NOT NULL CHECK (decision IN ('approved', 'returned')),
            reasons TEXT NOT NULL, note TEXT,
            reviewer_id INTEGER NOT NULL, reviewed_at TEXT NOT NULL,
            city_id TEXT, county_id TEXT, station_id TEXT
        );

        CREATE TABLE grid_positions (
            code TEXT PRIMARY KEY REFERENCES grids(code),
            lat REAL NOT NULL, lon REAL NOT NULL
        );

        CREATE TABLE outcome_feed (
            id INTEGER PRIMARY KEY,
            delivery_id TEXT NOT NULL UNIQUE,
            client_id INTEGER NOT NULL,
            warning_id INTEGER NOT NULL,
            payload TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX outcome_feed_client ON outcome_feed(client_id, id);

        CREATE TABLE webhook_state (
            name TEXT PRIMARY KEY,
            last_id INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            last_error TEXT,
            delivered INTEGER NOT NULL DEFAULT 0
        )
        """,
    )
    # One statement each (their bodies hold semicolons). A warning that reaches a final
    # state, or whose outcome changes once final, puts one item on the feed; its delivery
    # id names that event, so a platform drops a redelivery by it.
    db.execute(
        """
        CREATE TRIGGER warnings_outcome_feed AFTER UPDATE OF state, outcome ON warnings
        WHEN NEW.state IN ('completed', 'unreachable', 'cancelled')
            AND (OLD.state IS NOT NEW.state OR OLD.outcome IS NOT NEW.outcome)
        BEGIN
            INSERT INTO outcome_feed (delivery_id, client_id, warning_id, payload, at)
            VALUES (
                printf('out-%d-v%d', NEW.id, NEW.version), NEW.client_id, NEW.id,
                json_object(
                    'warning_id', NEW.id, 'platform_id', NEW.platform_id,
                    'state', NEW.state, 'outcome', NEW.outcome,
                    'contact', NEW.outcome_contact, 'officer_id', NEW.outcome_officer_id,
                    'amount_prevented', (SELECT amount_prevented FROM visit_logs
                                         WHERE entry_id = NEW.outcome_entry_id),
                    'first_contact_at', NEW.first_contact_at,
                    'closed_at', NEW.closed_at, 'cancel_reason', NEW.cancel_reason,
                    'county_id', NEW.county_id, 'station_id', NEW.station_id
                ),
                NEW.updated_at
            )
            ON CONFLICT (delivery_id) DO NOTHING;
        END
        """
    )


@migrations(name="m007_lean_push")
def m007_lean_push(db: Database) -> None:
    """A push writes fewer B-trees. Photo claims are no longer written by a trigger inside
    each push but caught up behind the pushes from visit_logs by seq (sqlite/claims.py):
    the cursor starts at the newest visit the trigger claimed. Two indexes no query uses
    are dropped (visits by receipt time: the seq indexes order them the same; warnings
    by seq: pulls read the change log instead)."""
    _run(
        db,
        """
        DROP TRIGGER visit_logs_claim_photos;
        DROP INDEX visit_logs_station;
        DROP INDEX warnings_seq;
        CREATE INDEX visit_logs_seq ON visit_logs(seq);
        INSERT INTO counters (name, value)
            VALUES ('claims_seq', (SELECT coalesce(max(seq), 0) FROM visit_logs))
        """,
    )


@migrations(name="m008_outcome_corrections")
def m008_outcome_corrections(db: Database) -> None:
    """A correction that keeps the outcome but changes what the platform is told (the
    amount prevented, the contact, the officer) is a new outcome for the platform; one
    that changes none of it (a resubmitted entry with its photo) is not."""
    db.execute("DROP TRIGGER warnings_outcome_feed")
    db.execute(
        """
        CREATE TRIGGER warnings_outcome_feed
        AFTER UPDATE OF state, outcome, outcome_entry_id ON warnings
        WHEN NEW.state IN ('completed', 'unreachable', 'cancelled')
            AND (OLD.state IS NOT NEW.state OR OLD.outcome IS NOT NEW.outcome
                 OR OLD.outcome_contact IS NOT NEW.outcome_contact
                 OR OLD.outcome_officer_id IS NOT NEW.outcome_officer_id
                 OR (SELECT amount_prevented FROM visit_logs
                     WHERE entry_id = OLD.outcome_entry_id)
                    IS NOT (SELECT amount_prevented FROM visit_logs
                            WHERE entry_id = NEW.outcome_entry_id))
        BEGIN
            INSERT INTO outcome_feed (delivery_id, client_id, warning_id, payload, at)
            VALUES (
                printf('out-%d-v%d', NEW.id, NEW.version), NEW.client_id, NEW.id,
                json_object(
                    'warning_id', NEW.id, 'platform_id', NEW.platform_id,
                    'state', NEW.state, 'outcome', NEW.outcome,
                    'contact', NEW.outcome_contact, 'officer_id', NEW.outcome_officer_id,
                    'amount_prevented', (SELECT amount_prevented FROM visit_logs
                                         WHERE entry_id = NEW.outcome_entry_id),
                    'first_contact_at', NEW.first_contact_at,
                    'closed_at', NEW.closed_at, 'cancel_reason', NEW.cancel_reason,
                    'county_id', NEW.county_id, 'station_id', NEW.station_id
                ),
                NEW.updated_at
            )
            ON CONFLICT (delivery_id) DO NOTHING;
        END
        """
    )


@migrations(name="m009_outcome_amount")
def m009_outcome_amount(db: Database) -> None:
    """The amount prevented of the entry holding a warning's outcome, on the warning row:
    a city-month report reads it from 570,000 rows instead of looking each up in the
    visit log. A trigger keeps it whoever moves the outcome (a push, a conflict
    resolution); the row is being written then anyway."""
    _run(
        db,
        """
        ALTER TABLE warnings ADD COLUMN outcome_amount INTEGER;
        UPDATE warnings SET outcome_amount = (SELECT amount_prevented FROM visit_logs v
            WHERE v.entry_id = warnings.outcome_entry_id)
        WHERE outcome_entry_id IS NOT NULL
        """,
    )
    db.execute(
        """
        CREATE TRIGGER warnings_outcome_amount AFTER UPDATE OF outcome_entry_id ON warnings
        WHEN OLD.outcome_entry_id IS NOT NEW.outcome_entry_id
        BEGIN
            UPDATE warnings SET outcome_amount = (SELECT amount_prevented FROM visit_logs
                WHERE entry_id = NEW.outcome_entry_id)
            WHERE id = NEW.id;
        END
        """
    )


@migrations(name="m010_last_push")
def m010_last_push(db: Database) -> None:
    """An officer's last push on their user row, written once a push, instead of an
    index over every mutation ever kept that oversight alone read: that index took 100
    entries and about six pages of every push of 100."""
    _run(
        db,
        """
        ALTER TABLE users ADD COLUMN last_push_at TEXT;
        UPDATE users SET last_push_at = (SELECT max(received_at) FROM mutations m
            WHERE m.user_id = users.id);
        DROP INDEX mutations_user_received
        """,
    )


@migrations(name="m011_grid_datum")
def m011_grid_datum(db: Database) -> None:
    """The datum of each grid centroid. Every centroid stored before came from the demo or
    `set_grid_positions`, both WGS-84, hence the default."""
    db.execute(
        "ALTER TABLE grid_positions ADD COLUMN datum TEXT NOT NULL DEFAULT 'wgs84'"
        " CHECK (datum IN ('wgs84', 'gcj02', 'bd09'))"
    )


@migrations(name="m012_rejections_once")
def m012_rejections_once(db: Database) -> None:
    """A phone resends what the server turned away until it hears the verdict; each resend
    is looked up here before it is kept, so the list holds each rejection once. Rows kept
    twice before stay: they were received twice."""
    db.execute(
        "CREATE INDEX IF NOT EXISTS rejected_mutations_user_mutation"
        " ON rejected_mutations(user_id, mutation_id)"
    )


@migrations(name="m013_field_mutation")
def m013_field_mutation(db: Database) -> None:
    """The mutation that set a field's value, so that a concurrent-edit conflict names the
    losing edit as the phone sent it. NULL for values set before, or by a supervisor's
    resolution (no phone sent those)."""
    db.execute("ALTER TABLE field_values ADD COLUMN mutation_id TEXT")


@migrations(name="m014_scope_order")
def m014_scope_order(db: Database) -> None:
    """Each scope member keeps its place in the pull's order, indexed with its officer: a
    page of a first pull was a sort of the officer's whole scope, and now is a range scan
    (server/store/scope_order.py)."""
    db.execute("ALTER TABLE scope_members ADD COLUMN sort_key TEXT NOT NULL DEFAULT ''")
    for kind, expression in SORT_KEY_SQL.items():
        db.execute(
            f"UPDATE scope_members SET sort_key = (SELECT {expression}"  # noqa: S608
            f" FROM {TASK_TABLE[kind]} t WHERE t.id = scope_members.task_id)"
            " WHERE task_kind = ?",
            (kind,),
        )
    db.execute("CREATE INDEX scope_members_order ON scope_members(officer_id, sort_key)")


@migrations(name="m015_session_handin")
def m015_session_handin(db: Database) -> None:
    """When a cut-off session (its device revoked or its user disabled) first handed in
    what its phone had not yet pushed: the hand-in stays open a short while from then
    (sync/PROTOCOL.md, Being cut off), and never again. NULL: not handed in."""
    db.execute("ALTER TABLE sessions ADD COLUMN handin_at TEXT")


@migrations(name="m016_initial_password")
def m016_initial_password(db: Database) -> None:
    """A password an administrator set is an initial one: it opens nothing but the change
    to a password of the user's own. Passwords set before stay as they were."""
    db.execute("ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0")


@migrations(name="m017_leases")
def m017_leases(db: Database) -> None:
    """Leases on the background jobs (server/leases.py): which process runs each one now,
    and until when (UTC ISO text, as every time in the store)."""
    db.execute(
        "CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL,"
        " expires_at TEXT NOT NULL)"
    )


@migrations(name="m018_upload_locks")
def m018_upload_locks(db: Database) -> None:
    """An upload's lock in the database, so that processes and nodes sharing the store keep
    two requests from writing one upload at once (server/uploads/service.py): who holds it
    and until when (a lease: NULL, or a time passed, is free), and which holder's step
    moved the offset last (NULL: none since this column), against which a process checks
    the running hash it cached. The partial index serves the photo sweep's question (is
    an upload of this photo locked now?) and holds only the few uploads locked."""
    _run(
        db,
        """
        ALTER TABLE uploads ADD COLUMN lock_holder TEXT;
        ALTER TABLE uploads ADD COLUMN lock_until TEXT;
        ALTER TABLE uploads ADD COLUMN written_by TEXT;
        CREATE INDEX uploads_locked ON uploads(sha256) WHERE lock_until IS NOT NULL
        """,
    )


@migrations(name="m019_outcome_rules_in_code")
def m019_outcome_rules_in_code(db: Database) -> None:
    """The outcome feed's payload is a wire contract with the platform, and the amount on
    the warning a rule of the reports: both are now written by code inside the write
    transaction (server/store/outcome_feed.py), once for every backend, instead of by
    triggers kept in two dialects."""
    _run(
        db,
        """
        DROP TRIGGER warnings_outcome_feed;
        DROP TRIGGER warnings_outcome_amount
        """,
    )


@migrations(name="m020_claims_by_officer")
def m020_claims_by_officer(db: Database) -> None:
    """An officer's photos that have not arrived (oversight's pending uploads) were
    counted by scanning every claim on record, once per officer on the page."""
    _run(db, "CREATE INDEX photo_claims_officer ON photo_claims(officer_id)")
