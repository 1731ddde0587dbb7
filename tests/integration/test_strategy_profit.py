"""The fair-value strategy against a simulator whose market makers misprice: the machinery end to end.

Runs the simulator backtest (``kxbtc.backtest.sim_loop``): the trading core and the simulated exchange
on one simulated clock with the seeded network between them, orders through the exchange's matching
engine. Deterministic, so the figures are the same on every machine
(``kxbtc backtest --config wide.toml --markets 24 --seed 1 --seed 2 --mispricing 0.06``). A profit here
is made against makers that misprice by construction: it shows the strategy acts on a mispricing it can
see, never that it has an edge on the real exchange.
"""

from __future__ import annotations

import json

from click.testing import CliRunner

from kxbtc.backtest.report import summarize
from kxbtc.backtest.sim_loop import run_backtest
from kxbtc.cli import EXIT_OK, cli
from kxbtc.config import Config, RiskConfig
from kxbtc.units import parse_money

SEEDS = (1, 2)
MARKETS = 24


def test_fair_value_acts_on_mispriced_makers_and_the_ledger_matches_the_exchange() -> None:
    # The breakers are opened wide: with the defaults a drawdown halt (which lasts until an operator
    # resumes) ends most seeds' trading early, and the question here is the strategy's edge.
    config = Config(risk=RiskConfig(daily_loss_pct=50.0, max_drawdown_pct=50.0))
    runs = run_backtest(config, seeds=SEEDS, markets=MARKETS, mispricing=0.06, strategies=["fair_value"])
    report = summarize(runs)
    print("\n" + report.render())

    # Every cent the local ledger booked is in the exchange's cash, and nothing else.
    assert report.ledger_matches_exchange
    assert report.markets == MARKETS
    assert report.traded_markets >= MARKETS // 2
    fees = parse_money(report.fees_usd)
    assert fees > 0
    # No profit is asserted: with a network between the core and the exchange the fair-value taker's
    # result against even mispricing makers swings with its sizing (these seeds: -$564.10 after fees;
    # four seeds of 15 markets: +$5,310.57). Whether anything has an edge is a question for real data
    # (docs/RESEARCH.md), not for the simulator.
    assert report.hit_rate > 0
    # No order was ever refused by the exchange (the risk gate and the sizing stay within what it takes).
    assert report.exchange_refusals == {}


def test_backtest_command_is_deterministic_and_reports_json() -> None:
    args = ["backtest", "--markets", "2", "--seed", "3", "--mispricing", "0.05", "--json"]
    first = CliRunner().invoke(cli, args)
    second = CliRunner().invoke(cli, args)
    assert first.exit_code == EXIT_OK, first.output
    report = json.loads(first.stdout)
    assert report["seeds"] == [3] and report["markets"] == 2
    assert report["ledger_matches_exchange"] is True
    stats = {"net_pnl_usd", "fees_usd", "hit_rate", "mean_per_market_usd", "stderr_per_market_usd"}
    assert stats <= set(report)
    assert second.stdout == first.stdout  # same seed, same run, to the micro-dollar
