"""The ``kxbtc`` command. Each subcommand lives beside the code it drives and is registered here.

Subcommand modules are imported only when their command runs (or ``--help`` lists it): many of them pull in
scipy, aiohttp or the simulator, which ``kxbtc --version`` or ``kxbtc status`` should not pay for.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from kxbtc import __version__
from kxbtc.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from kxbtc.logs import LogFormat

__all__ = ["COMMANDS", "EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "SHORT_HELP", "cli", "main"]

#: Every subcommand: its name on the command line -> ``"module:attribute"`` of its click command.
#: Adding a command or group is one line here.
COMMANDS: dict[str, str] = {
    "backtest": "kxbtc.backtest.cli:backtest",
    "bench": "kxbtc.bench.cli:bench",
    "calibrate": "kxbtc.pricing.cli:calibrate_command",
    "config": "kxbtc.engine.cli:config_group",
    "dashboard": "kxbtc.dashboard.server:dashboard",
    "demo": "kxbtc.engine.demo_cli:demo",
    "doctor": "kxbtc.engine.cli:doctor",
    "fairvalue": "kxbtc.pricing.cli:fairvalue",
    "fills": "kxbtc.ops.cli:fills",
    "halt": "kxbtc.ops.cli:halt",
    "history": "kxbtc.history.cli:history",
    "keys": "kxbtc.keys:keys",
    "llm": "kxbtc.llm.cli:llm",
    "oracle": "kxbtc.oracle.cli:oracle",
    "orders": "kxbtc.ops.cli:orders",
    "pnl": "kxbtc.ops.cli:pnl",
    "poly": "kxbtc.polymarket.cli:poly",
    "positions": "kxbtc.ops.cli:positions",
    "record": "kxbtc.backtest.cli:record",
    "report": "kxbtc.report.cli:report",
    "resume": "kxbtc.ops.cli:resume",
    "run": "kxbtc.engine.cli:run_live",
    "research": "kxbtc.research.study_cli:research",
    "score": "kxbtc.research.cli:score_command",
    "sim": "kxbtc.sim.cli:sim",
    "sweep": "kxbtc.replay.sweep_cli:sweep_command",
    "status": "kxbtc.ops.cli:status",
}


class OneLineUsageError(click.UsageError):
    """A usage error shown as one line on stderr (exit 2): the command, what is wrong, where help is.

    Click's own form is three lines (usage, hint, error); a script's log or a trader skimming a terminal
    wants the one that matters."""

    def __init__(self, original: click.UsageError) -> None:
        super().__init__(original.format_message(), original.ctx)

    def show(self, file: IO[Any] | None = None) -> None:
        path = self.ctx.command_path if self.ctx is not None else "kxbtc"
        click.echo(f"{path}: {self.format_message()} (see '{path} --help')", file=file, err=file is None)


#: Each command's one-line help, for ``kxbtc --help``: listing the commands imports none of them (their
#: modules pull in scipy, aiohttp and the simulator: seconds). ``test_cli_registry`` checks every command
#: has one.
SHORT_HELP: dict[str, str] = {
    "backtest": "Run strategies against the simulator second by second.",
    "bench": "Speed figures (median and p99) in one table, and as JSON.",
    "calibrate": "Score the fair-value model on one-minute candles.",
    "config": "Configuration commands.",
    "dashboard": "A local web page with the live state.",
    "demo": "Run kxbtc against its built-in simulator (no keys, no network).",
    "doctor": "Check keys, clock skew, connectivity and authentication.",
    "fairvalue": "Probability that a BTC market settles YES.",
    "fills": "The newest fills, newest first.",
    "halt": "Manual kill switch: stop trading.",
    "history": "Public market history: settled markets, candles, trades.",
    "keys": "Create and check API key files.",
    "llm": "The multi-LLM forecast ensemble.",
    "oracle": "The settlement index: spot feeds and the BRTI estimate.",
    "orders": "The newest orders, newest first.",
    "pnl": "Realized P&L from fills and settlements.",
    "poly": "Polymarket's 15-minute BTC up/down market.",
    "positions": "Open positions from the recorded fills, beside the exchange's.",
    "record": "Record market data to a file for replays.",
    "report": "One HTML tearsheet for a backtest, replay or live run.",
    "research": "Measurements on recorded markets.",
    "resume": "Lift the manual kill switch.",
    "run": "Trade live on Kalshi's demo or production exchange.",
    "score": "Score the fair value, the market mid and a blend on recordings.",
    "sim": "The local simulated Kalshi exchange.",
    "status": "Balance, equity, positions, resting orders, today's P&L.",
    "sweep": "Replay each strategy at each latency on recordings.",
}


class LazyGroup(click.Group):
    """A click group whose subcommands, named in ``lazy_commands``, are imported on first use; every usage
    error below it prints as one line (``OneLineUsageError``)."""

    def __init__(self, *args: Any, lazy_commands: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            raise _one_line(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise _one_line(exc) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from ``SHORT_HELP``, importing no command module."""
        rows = []
        for name in self.list_commands(ctx):
            loaded = self.commands.get(name)
            if loaded is not None:
                if loaded.hidden:
                    continue
                rows.append((name, loaded.get_short_help_str(formatter.width)))
            else:
                rows.append((name, SHORT_HELP.get(name, "")))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            self.add_command(_import_command(self.lazy_commands[cmd_name]), cmd_name)
        return super().get_command(ctx, cmd_name)


def _one_line(exc: click.UsageError) -> click.UsageError:
    return exc if isinstance(exc, OneLineUsageError) else OneLineUsageError(exc)


def _import_command(target: str) -> click.Command:
    """The click command at ``"module:attribute"``."""
    module_name, _, attribute = target.partition(":")
    command = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"{target} is not a click command")
    return command


@click.group(cls=LazyGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kxbtc")
@click.option("-v", "--verbose", count=True, help="More log lines on stderr (-v info, -vv debug).")
@click.option("-q", "--quiet", count=True, help="Fewer log lines on stderr (errors only).")
@click.option(
    "--log-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the log here (info and up, the whole event feed included); secrets are masked.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON object a line (to --log-file, or to stderr without one).",
)
def cli(verbose: int, quiet: int, log_file: Path | None, log_format: LogFormat) -> None:
    """kxbtc: autonomous trading for Kalshi's 15-minute and hourly Bitcoin markets."""
    from kxbtc.logs import configure_logging

    configure_logging(verbose=verbose, quiet=quiet, log_file=log_file, log_format=log_format)


def main() -> None:
    cli()
