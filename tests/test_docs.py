"""What a user can set, get wrong or type is documented: tests fail when it is not."""

from __future__ import annotations

import re
from pathlib import Path

from server.cli import build_parser
from server.errors import ERROR_TABLE, ErrorCode
from server.settings import ENV_VARS, Settings

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "settings.md").read_text()
    documented = set(re.findall(r"`(BEATSYNC_[A-Z0-9_]+)`", text))
    assert documented == set(ENV_VARS)
    assert set(ENV_VARS.values()) == set(Settings.__struct_fields__)


def test_every_error_code_is_documented_with_its_status() -> None:
    text = (ROOT / "docs" / "errors.md").read_text()
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \|", text, flags=re.M))
    assert set(rows) == {c.value for c in ErrorCode}
    for code, (status, _) in ERROR_TABLE.items():
        assert int(rows[code.value]) == status, code
    assert set(ERROR_TABLE) == set(ErrorCode)


def test_every_cli_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    parser = build_parser()
    commands = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    names: list[str] = []
    for action in commands:
        for name, sub in action.choices.items():
            nested = [a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction"]
            names += [f"{name} {n}" for a in nested for n in a.choices] or [name]
    assert names
    for name in names:
        assert f"beatsync {name}" in readme, f"`beatsync {name}` is not in the README"
