"""The lazy command registry: every entry resolves to the command it names, and --version stays cheap."""

from __future__ import annotations

import subprocess
import sys

import click
from click.testing import CliRunner

from kxbtc.cli import COMMANDS, SHORT_HELP, _import_command, cli


def test_every_registered_command_imports_under_its_own_name() -> None:
    for name, target in COMMANDS.items():
        command = _import_command(target)
        assert isinstance(command, click.Command)
        assert command.name == name or name in (command.name or "").replace("_", "-"), (name, target)


def test_help_lists_every_command() -> None:
    out = CliRunner().invoke(cli, ["--help"]).output
    for name in COMMANDS:
        assert f"  {name} " in out or f"  {name}\n" in out, name


def test_version_imports_no_command_module() -> None:
    probe = (
        "import sys; from kxbtc.cli import cli\n"
        "try:\n    cli(['--version'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('scipy', 'aiohttp', 'kxbtc.sim.exchange', 'kxbtc.engine.core')\n"
        "print('loaded=' + ','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "loaded=", out


def test_every_command_has_a_short_help() -> None:
    assert set(SHORT_HELP) == set(COMMANDS)


def test_help_imports_no_command_module() -> None:
    probe = (
        "import sys; from kxbtc.cli import cli\n"
        "try:\n    cli(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('scipy', 'aiohttp', 'kxbtc.sim.exchange', 'kxbtc.engine.core')\n"
        "print('loaded=' + ','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "loaded=", out
