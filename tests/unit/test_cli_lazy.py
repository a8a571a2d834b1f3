"""The CLI imports only the module of the command it runs (cli/__init__.py COMMANDS)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from support.fresh_python import fresh_python_json
from switchyard import cli


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def test_the_command_table_names_every_command_and_only_those() -> None:
    assert _commands(cli.build_parser()) == set(cli.COMMANDS)
    for command, module in cli.COMMANDS.items():
        narrow = _commands(cli.build_parser(command))
        assert command in narrow
        assert narrow == {c for c, m in cli.COMMANDS.items() if m == module}


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["keys", "list"], "keys"),
        (["--config", "x.yaml", "orgs", "create", "a"], "orgs"),
        (["--config=x.yaml", "serve"], "serve"),
        (["--help"], None),
        ([], None),
    ],
)
def test_command_of(argv: list[str], command: str | None) -> None:
    assert cli.command_of(argv) == command


def test_an_unknown_command_gets_the_whole_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["nonsense"])
    err = capsys.readouterr().err
    assert "invalid choice: 'nonsense'" in err and "provider-keys" in err and "serve" in err


def test_a_management_command_loads_neither_the_server_nor_other_commands(tmp_path: Path) -> None:
    code = (
        "import sys, json\nfrom switchyard import cli\nrc = cli.main(['orgs', 'list'])\n"
        "print(json.dumps([rc, sorted(m for m in sys.modules if m.startswith(('switchyard.cli', 'uvicorn')))]))"
    )
    rc, loaded = fresh_python_json(code, cwd=tmp_path, env={"SWITCHYARD_HOME": str(tmp_path)})
    assert rc == 0
    assert loaded == ["switchyard.cli", "switchyard.cli.accounts", "switchyard.cli.runner"]


def test_the_serving_module_imports_no_cli_command_and_no_store() -> None:
    """With several workers `serve` execs `python -m switchyard.cli.serving`: that supervisor must stay small."""
    code = (
        "import sys, json\nimport switchyard.cli.serving\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} | "
        "{m for m in sys.modules if m.startswith('switchyard.cli.')})))"
    )
    loaded = set(fresh_python_json(code))
    assert "switchyard.cli.serving" in loaded
    assert not loaded & {"sqlalchemy", "switchyard.cli.server", "switchyard.cli.accounts", "uvicorn"}
