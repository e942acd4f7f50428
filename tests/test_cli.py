from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from ctakes_llm.cli import cli


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found = []
    for name, command in group.commands.items():
        found.append(((*prefix, name), command))
        if isinstance(command, click.Group):
            found += all_commands(command, (*prefix, name))
    return found


@pytest.mark.parametrize("path", [path for path, _ in all_commands(cli)], ids=" ".join)
def test_cli_every_command_has_help_with_text(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    command = dict(all_commands(cli))[path]
    assert command.help and len(command.help.strip()) > 20, f"{' '.join(path)} lacks a real help text"


def test_cli_typesystem_list_names_all_bundled_versions() -> None:
    result = CliRunner().invoke(cli, ["typesystem", "list"])
    assert result.exit_code == 0
    names = [line.split("\t")[0] for line in result.output.splitlines()]
    assert {"4.0.0", "6.0.0", "main"} <= set(names)


def test_cli_typesystem_export_writes_the_descriptor(tmp_path) -> None:
    target = tmp_path / "ts.xml"
    result = CliRunner().invoke(cli, ["typesystem", "export", "6.0.0", str(target)])
    assert result.exit_code == 0, result.output
    assert b"org.apache.ctakes.typesystem.type.textsem.IdentifiedAnnotation" in target.read_bytes()


def test_cli_unknown_typesystem_is_a_one_line_error(tmp_path) -> None:
    result = CliRunner().invoke(cli, ["typesystem", "export", "3.2.1", str(tmp_path / "x.xml")])
    assert result.exit_code == 1
    assert "Error:" in result.output and "3.2.1" in result.output
