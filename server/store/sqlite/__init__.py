"""The SQLite backend, the embedded default: one file in WAL mode (store.py opens it).

Its statement code (base.py and the modules named for what they hold) is shared with
the PostgreSQL backend, which runs the same statements through its dialect
(server/store/postgres/dialect.py); migrations.py and checkpoint.py are SQLite's alone.
"""
