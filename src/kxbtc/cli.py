"""The ``kxbtc`` command. Each subcommand lives beside the code it drives and is registered here."""

from __future__ import annotations

import click

from kxbtc import __version__

#: Exit codes are part of the interface: scripts branch on them.
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kxbtc")
def cli() -> None:
    """kxbtc: autonomous trading for Kalshi's 15-minute and hourly Bitcoin markets."""


def main() -> None:
    cli()
