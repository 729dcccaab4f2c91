"""The package boundaries of the brief: a phone knows the server by HTTP alone."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_top_levels(package: str) -> set[str]:
    names: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def test_sync_imports_neither_server_nor_clients() -> None:
    assert not imported_top_levels("sync") & {"server", "clients"}


def test_clients_do_not_import_the_server() -> None:
    assert "server" not in imported_top_levels("clients")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_each_store_backend_is_a_package_of_its_own() -> None:
    """A reader finds a backend in one folder; nothing of one lies loose beside the
    interface and its neutral types."""
    store = ROOT / "server" / "store"
    assert (store / "sqlite" / "store.py").is_file()
    assert (store / "postgres" / "store.py").is_file()
    assert sorted(p.name for p in store.glob("*sqlite*")) == ["sqlite"]
    assert sorted(p.name for p in store.glob("*postgres*")) == ["postgres"]


def test_only_the_store_opener_names_a_backend() -> None:
    """Services, the interface and its neutral types never import the SQLite backend, so
    a second backend (issue 14) joins in one place: server/store/opening.py."""
    neutral = {
        "__init__.py",
        "interface.py",
        "opening.py",
        "records.py",
        "queries.py",
        "history_records.py",
        "sync_records.py",
        "upload_records.py",
        "supervision_records.py",
        "visit_records.py",
        "overdue.py",
        "scope_order.py",
        "group_commit.py",
        # The push's decisions: a backend loads and writes around them (issue 14).
        "push_merge.py",
    }
    offenders = []
    for path in (ROOT / "server").rglob("*.py"):
        # A backend package (server/store/postgres/) is a backend module too.
        inside_store = ROOT / "server" / "store" in (path.parent, path.parent.parent)
        if inside_store and path.name not in neutral:
            continue  # a backend's own modules
        backend = {m for m in imported_modules(path) if m.startswith("server.store.sqlite")}
        # backup.py copies a SQLite file (PostgreSQL's backups are pg_dump's).
        if backend and path.name not in ("opening.py", "backup.py"):
            offenders.append(f"{path.relative_to(ROOT)}: {sorted(backend)}")
    assert offenders == []
