"""The ``kxbtc`` command. Each subcommand lives beside the code it drives and is registered here."""

from __future__ import annotations

import click

from kxbtc import __version__
from kxbtc.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kxbtc")
def cli() -> None:
    """kxbtc: autonomous trading for Kalshi's 15-minute and hourly Bitcoin markets."""


def main() -> None:
    cli()


from kxbtc.keys import keys  # noqa: E402

cli.add_command(keys)

from kxbtc.pricing.cli import calibrate_command, fairvalue  # noqa: E402

cli.add_command(fairvalue)
cli.add_command(calibrate_command)

from kxbtc.ops.cli import fills, halt, orders, pnl, positions, resume, status  # noqa: E402

cli.add_command(status)
cli.add_command(positions)
cli.add_command(orders)
cli.add_command(fills)
cli.add_command(pnl)
cli.add_command(halt)
cli.add_command(resume)

from kxbtc.sim.cli import sim  # noqa: E402

cli.add_command(sim)

from kxbtc.oracle.cli import oracle  # noqa: E402

cli.add_command(oracle)

from kxbtc.engine.cli import config_group, demo, doctor, run_live  # noqa: E402

cli.add_command(demo)
cli.add_command(run_live)
cli.add_command(doctor)
cli.add_command(config_group)

from kxbtc.backtest.cli import backtest  # noqa: E402

cli.add_command(backtest)
