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
