"""Pieces every command module shares: the ``--config`` option and loading it with a clean exit."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import click

from kxbtc.config import Config, load_config
from kxbtc.errors import ConfigError
from kxbtc.exit_codes import EXIT_FAILURE, EXIT_USAGE
from kxbtc.logs import register_config_secrets
from kxbtc.store.connection import StoreError, StoreOpenError

P = ParamSpec("P")
R = TypeVar("R")

config_option = click.option(
    "--config", "config_path", type=click.Path(path_type=Path), default=None, help="TOML config file."
)


def load_config_or_exit(config_path: Path | None) -> Config:
    """The validated configuration; a bad file or value prints one line naming it and exits 2."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        click.echo(f"kxbtc: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    register_config_secrets(config)  # masked in every log line from here on
    return config


def parse_sim_clock(text: str) -> tuple[float, int, int]:
    """``SPEED:SIM_NS:WALL_NS`` -> (speed, sim_ns, wall_ns); a malformed value is a usage error."""
    try:
        speed_text, sim_text, wall_text = text.split(":")
        speed, sim_ns, wall_ns = float(speed_text), int(sim_text), int(wall_text)
    except ValueError:
        speed = 0.0
        sim_ns = wall_ns = 0
    if speed <= 0 or sim_ns <= 0 or wall_ns <= 0:
        click.echo(f"kxbtc: --sim-clock {text!r}: expected SPEED:SIM_NS:WALL_NS, all positive", err=True)
        sys.exit(EXIT_USAGE)
    return speed, sim_ns, wall_ns


def exits_on_store_error(command: Callable[P, R]) -> Callable[P, R]:
    """A command whose database fails prints one line naming the file: exit 2 when the file cannot be used
    (foreign, locked by another process, unreadable), 1 when a write fails while running."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except StoreError as exc:
            click.echo(f"kxbtc: {exc}", err=True)
            sys.exit(EXIT_USAGE if isinstance(exc, StoreOpenError) else EXIT_FAILURE)

    return run
