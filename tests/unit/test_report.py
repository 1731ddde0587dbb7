"""`kxbtc report` on a small database built with the store API, every figure worked by hand.

Price 1e-4 $, Count 1e-2 contracts, Money 1e-6 $. Strategies fv (fill-or-kill) and mm (resting orders).

Market A, settles YES:
  d1 fv 14:00:00 p_yes 0.70, yes_ask 0.40, no_ask 0.62 -> mid (0.40 + 0.38) / 2 = 0.39
  f1 fv buy YES 10 @ 0.40 fee 0.17 (taker)              slippage +0.01/contract, $0.10
  d6 mm 14:10:00 mid 0.46 (no p_yes)
  f5 mm sell YES 2 @ 0.45 (buys NO at 0.55), no fee     slippage 0.46 - 0.45 = +0.01, $0.02
     netted: closes 2 of 10 YES: 2 x 0.45 - 4.00 x 2/10 = +0.10
  settlement YES: 8 YES pay 8.00 - 3.20 = +4.80         A: 4.90 - 0.17 = $4.73
  by strategy alone: fv 10.00 - 4.00 - 0.17 = 5.83; mm loses its NO, -1.10; sum 4.73 (nothing unattributed)
  d5 fv 14:05 p_yes 0.90, rejected (a forecast still)
Market B, settles NO:
  d2 mm 15:00:00 p_yes 0.20, yes_ask 0.30, no_ask 0.71 -> mid 0.295
  f2 mm sell YES 5 @ 0.30 (buys NO at 0.70), maker      slippage 0.295 - 0.30 = -0.005, -$0.025
  settlement NO: 5.00 - 3.50 = +1.50                    B: $1.50
Market C, open:
  d3 fv 16:00 p_yes 0.55, no book in its inputs;  f3 fv buy YES 2 @ 0.50 fee 0.02 (no mid: unmatched)
  f4 mm buy YES 1 @ 0.45, maker, of a resting order with no decision (unmatched)   C: -$0.02

Totals: 4.73 + 1.50 - 0.02 = $6.21 over 3 markets (mean $2.07); fv 5.83 - 0.02 = $5.81; mm -1.10 + 1.50
= $0.40. By UTC hour: 14:00 $4.73, 15:00 $1.50, 16:00 -$0.02.
Intervals (3 markets): drawing one market three times has probability 1/27 = 3.7 % > 2.5 %, so the
percentiles land on the extremes: total -0.06 to +14.19 (3 x C, 3 x A); fv -0.06 to +17.49; mm -3.30
to +4.50.
Fees: taker f1 + f3 = $0.19 over 12 contracts ($0.0158/contract); maker 3 fills, 8 contracts, $0.00.
Hit rate: markets 2 of 2 settled; fills f1, f2 won, f5 lost: 2 of 3; contracts 15 of 17.
Slippage: fv $0.10 on 10 (+$0.0100); mm -0.025 + 0.02 = -$0.005 on 7 (-$0.0007); total $0.095 on 17
(+$0.0056); unmatched 2.
Resting (GTC) orders placed: o2 (5 of 5), o3 (0 of 10), o5 (1 of 4), o7 (2 of 2); o6 rejected, left out:
placed 4, filled 3, fully 2, contracts 8 of 21.
Forecasts in settled markets: 0.70 -> YES, 0.90 -> YES, 0.20 -> NO: Brier (0.09 + 0.01 + 0.04) / 3 =
0.046667; base rate 2/3, its Brier 2/9.
Equity: 100.00, 105.00 (peak), 103.00, 104.50, 104.00: max drawdown -$2.00 at 15:00.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kxbtc.cli import EXIT_OK, EXIT_USAGE, cli
from kxbtc.report import fmt
from kxbtc.store.db import SqliteStore
from kxbtc.store.records import FillRecord, OrderRecord, PnlSnapshot, RiskEventRecord, SettlementRecord
from kxbtc.units import Count, Money, Price

A, B, C = "KXBTC15M-26NOV241415-15", "KXBTC15M-26NOV241515-15", "KXBTC15M-26NOV241630-30"
FOK, GTC = "fill_or_kill", "good_till_canceled"


def ns(hms: str) -> int:
    return int(datetime.fromisoformat(f"2026-11-24T{hms}").replace(tzinfo=UTC).timestamp()) * 1_000_000_000


def order(coid: str, ticker: str, side: str, price: int, count: int, tif: str, status: str, filled: int,
          at: str, strategy: str) -> OrderRecord:  # fmt: skip
    return OrderRecord(
        client_order_id=coid,
        ticker=ticker,
        side=side,
        price=Price(price),
        count=Count(count),
        time_in_force=tif,
        status=status,
        created_ns=ns(at),
        updated_ns=ns(at),
        strategy=strategy,
        order_id=f"x-{coid}",
        fill_count=Count(filled),
    )


def fill(fid: str, coid: str, ticker: str, side: str, price: int, count: int, fee: int, taker: bool,
         at: str, strategy: str) -> FillRecord:  # fmt: skip
    return FillRecord(
        fid, f"x-{coid}", ticker, side, Price(price), Count(count), Money(fee), taker, ns(at), strategy
    )


def decide(store: SqliteStore, at: str, strategy: str, ticker: str, inputs: dict[str, Any], ok: bool) -> None:
    outcome = "approved 100" if ok else "rejected by max_position: too big"
    store.record_decision(ns(at), strategy, ticker, json.dumps(inputs), json.dumps({"outcome": outcome}), "")


def settle(ticker: str, result: str, at: str) -> SettlementRecord:
    zero = Money(0)
    return SettlementRecord(ticker, ticker[:-3], result, Count(0), Count(0), zero, zero, zero, zero, ns(at))


def build(path: Path) -> None:
    store = SqliteStore(path)
    decide(store, "14:00:00", "fv", A, {"p_yes": 0.70, "yes_ask": 4000, "no_ask": 6200}, True)
    decide(store, "14:05:00", "fv", A, {"p_yes": 0.90, "yes_ask": 4100, "no_ask": 6000}, False)
    decide(store, "14:10:00", "mm", A, {"mid": 4600}, True)
    decide(store, "15:00:00", "mm", B, {"p_yes": 0.20, "yes_ask": 3000, "no_ask": 7100}, True)
    decide(store, "16:00:00", "fv", C, {"p_yes": 0.55, "yes_ask": None, "no_ask": None}, True)
    decide(store, "16:05:00", "fv", C, {"p_yes": 0.60}, False)
    for record in (
        order("o1", A, "bid", 4000, 1000, FOK, "executed", 1000, "14:00:00", "fv"),
        order("o7", A, "ask", 4500, 200, GTC, "executed", 200, "14:10:00", "mm"),
        order("o2", B, "ask", 3000, 500, GTC, "executed", 500, "15:00:00", "mm"),
        order("o3", B, "bid", 2500, 1000, GTC, "canceled", 0, "15:01:00", "mm"),
        order("o6", B, "bid", 2400, 1000, GTC, "rejected", 0, "15:02:00", "mm"),
        order("o4", C, "bid", 5000, 200, FOK, "executed", 200, "16:00:00", "fv"),
        order("o5", C, "bid", 4500, 400, GTC, "resting", 100, "16:10:00", "mm"),
    ):
        store.record_order(record)
    for record in (
        fill("f1", "o1", A, "bid", 4000, 1000, 170_000, True, "14:00:01", "fv"),
        fill("f5", "o7", A, "ask", 4500, 200, 0, False, "14:10:30", "mm"),
        fill("f2", "o2", B, "ask", 3000, 500, 0, False, "15:05:00", "mm"),
        fill("f3", "o4", C, "bid", 5000, 200, 20_000, True, "16:00:00", "fv"),
        fill("f4", "o5", C, "bid", 4500, 100, 0, False, "16:20:00", "mm"),
    ):
        store.record_fill(record)
    store.record_settlement(settle(A, "yes", "14:15:00"))
    store.record_settlement(settle(B, "no", "15:15:00"))
    for at, equity in (("14:00:00", 100), ("14:15:00", 105), ("15:00:00", 103), ("15:15:00", 104.5),
                       ("16:30:00", 104)):  # fmt: skip
        micros = Money(int(equity * 1_000_000))
        store.record_pnl(PnlSnapshot(ns(at), "2026-11-24", micros, Money(0), Money(0), Money(0), Money(0)))
    store.record_risk_event(RiskEventRecord(ns("15:00:00"), "daily_loss", "warning", "close to the floor"))
    store.record_risk_event(RiskEventRecord(ns("15:30:00"), "manual_halt", "halt", "operator <b>stop</b>"))
    store.flush()
    store.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    base = tmp_path_factory.mktemp("report")
    build(base / "kxbtc.db")
    result = CliRunner().invoke(
        cli, ["report", "--db", str(base / "kxbtc.db"), "--out", str(base / "out"), "--json"]
    )
    assert result.exit_code == EXIT_OK, result.output
    return base / "out", json.loads(result.stdout)


def micros(value: dict[str, Any]) -> int:
    return int(value["micros"])


def test_money_reads_as_dollars_and_cents_with_the_sign_first() -> None:
    assert fmt.dollars(-1_250_000) == "-$1.25"
    assert fmt.dollars(1_234_567_890) == "$1,234.57"
    assert fmt.dollars(-5_000) == "-$0.01"  # half a cent rounds away from zero
    assert fmt.dollars(-4_999) == "$0.00"  # never "-$0.00"
    assert fmt.signed_dollars(6_210_000) == "+$6.21"
    assert fmt.per_contract(-7) == "-$0.0007"
    assert fmt.contracts(8600) == "86 contracts" and fmt.contracts(100) == "1 contract"
    assert fmt.contracts(50) == "0.50 contracts"
    assert fmt.money(-25_000) == {"micros": -25_000, "dollars": "-0.025000", "display": "-$0.03"}


def test_pnl_by_market_strategy_and_hour_with_their_intervals(report: tuple[Path, dict[str, Any]]) -> None:
    pnl = report[1]["pnl"]
    assert micros(pnl["total"]["net"]) == 6_210_000 and micros(pnl["total"]["fees"]) == 190_000
    assert pnl["total"]["volume"]["display"] == "20 contracts"
    assert micros(pnl["mean_per_market"]) == 2_070_000
    markets = {m["ticker"]: (micros(m["net"]), m["result"]) for m in pnl["by_market"]}
    assert markets == {A: (4_730_000, "yes"), B: (1_500_000, "no"), C: (-20_000, "open")}
    strategies = {r["key"]: micros(r["net"]) for r in pnl["by_strategy"]}
    assert strategies == {"fv": 5_810_000, "mm": 400_000}
    hours = {r["key"]: micros(r["net"]) for r in pnl["by_hour"]}
    assert hours == {"14:00 UTC": 4_730_000, "15:00 UTC": 1_500_000, "16:00 UTC": -20_000}

    def bounds(row: dict[str, Any]) -> tuple[int, int]:
        return micros(row["interval"]["low"]), micros(row["interval"]["high"])

    assert bounds(pnl["total"]) == (-60_000, 14_190_000)
    by_key = {r["key"]: bounds(r) for r in pnl["by_strategy"]}
    assert by_key == {"fv": (-60_000, 17_490_000), "mm": (-3_300_000, 4_500_000)}
    assert pnl["seed"] == 1 and pnl["resamples"] == 1000


def test_fees_hit_rate_slippage_and_fill_rates(report: tuple[Path, dict[str, Any]]) -> None:
    figures = report[1]
    fees = {r["key"]: r for r in figures["fees"]["by_liquidity"]}
    assert micros(fees["taker"]["fees"]) == 190_000 and fees["taker"]["per_contract"]["display"] == "$0.0158"
    assert fees["maker"]["fills"] == 3 and micros(fees["maker"]["fees"]) == 0
    hits = figures["hit_rate"]
    assert (hits["markets_won"], hits["markets_settled"]) == (2, 2)
    assert (hits["fills_won"], hits["fills_settled"]) == (2, 3)
    assert (hits["contracts_won"]["hundredths"], hits["contracts_settled"]["hundredths"]) == (1500, 1700)
    slip = figures["slippage"]
    by = {r["key"]: (micros(r["cost"]), r["per_contract"]["display"]) for r in slip["by_strategy"]}
    assert by == {"fv": (100_000, "$0.0100"), "mm": (-5_000, "-$0.0007")}
    assert (micros(slip["total"]["cost"]), slip["total"]["per_contract"]["display"]) == (95_000, "$0.0056")
    assert slip["unmatched_fills"] == 2
    rates = figures["fill_rates"]["total"]
    assert (rates["placed"], rates["filled"], rates["fully_filled"]) == (4, 3, 2)
    assert (rates["contracts_filled"]["display"], rates["contracts_placed"]["display"]) == (
        "8 contracts",
        "21 contracts",
    )


def test_equity_risk_events_and_forecast_reliability(report: tuple[Path, dict[str, Any]]) -> None:
    figures = report[1]
    equity = figures["equity"]
    assert [micros(equity[k]) for k in ("start", "end", "peak")] == [100_000_000, 104_000_000, 105_000_000]
    assert equity["max_drawdown"]["display"] == "-$2.00"
    assert equity["max_drawdown_time"] == "2026-11-24T15:00:00.000Z"
    counts = {(c["kind"], c["severity"]): c["count"] for c in figures["risk_events"]["counts"]}
    assert counts == {("daily_loss", "warning"): 1, ("manual_halt", "halt"): 1}
    forecast = figures["forecast"]
    assert (forecast["forecasts"], forecast["markets"]) == (3, 2)
    assert forecast["brier"] == pytest.approx(0.14 / 3)
    assert forecast["base_rate"] == pytest.approx(2 / 3)
    assert forecast["brier_base_rate"] == pytest.approx(2 / 9)
    filled = {round(b["lower"], 1): (b["n"], b["observed"]) for b in forecast["bins"] if b["n"]}
    assert filled == {0.2: (1, 0.0), 0.7: (1, 1.0), 0.9: (1, 1.0)}


def test_the_page_is_self_contained_and_shows_dollars(report: tuple[Path, dict[str, Any]]) -> None:
    out, figures = report
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:)""", page), "every src/href is inline"
    assert "http://" not in page and "https://" not in page
    assert page.count("data:image/png;base64,") == 6
    for text in ("+$6.21", "-$0.02", "+$4.73", "$0.0158", "20 contracts", "-$0.06 to +$14.19", "2 of 3"):
        assert text in page, text
    assert "operator &lt;b&gt;stop&lt;/b&gt;" in page  # text from the database is escaped
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == sorted(Path(p).name for p in figures["files"]["png"])
    assert all((out / name).read_bytes().startswith(b"\x89PNG") for name in pngs)


def test_an_empty_database_says_no_rows(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "empty.db").close()
    result = CliRunner().invoke(
        cli, ["report", "--db", str(tmp_path / "empty.db"), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == EXIT_OK, result.output
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert page.count("no rows") >= 10
    assert list((tmp_path / "out").glob("*.png")) == []


def test_a_missing_database_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", "--db", str(tmp_path / "nope.db"), "--out", str(tmp_path)])
    assert result.exit_code == EXIT_USAGE
    assert "nope.db" in result.output


def test_many_markets_show_the_best_and_worst_and_a_histogram(tmp_path: Path) -> None:
    """45 markets, market i bought 1 YES at 0.50 and settled YES for even i (+$0.50), NO for odd (-$0.50)."""
    store = SqliteStore(tmp_path / "many.db")
    for i in range(45):
        ticker = f"KXBTC15M-26NOV24{i:04d}-15"
        store.record_fill(fill(f"f{i}", f"o{i}", ticker, "bid", 5000, 100, 0, True, f"14:{i:02d}:00", "fv"))
        store.record_settlement(settle(ticker, "yes" if i % 2 == 0 else "no", f"15:{i:02d}:00"))
    store.flush()
    store.close()
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["report", "--db", str(tmp_path / "many.db"), "--out", str(out), "--json"]
    )
    assert result.exit_code == EXIT_OK, result.output
    figures = json.loads(result.stdout)
    assert len(figures["pnl"]["by_market"]) == 45
    assert micros(figures["pnl"]["total"]["net"]) == 23 * 500_000 - 22 * 500_000
    interval = figures["pnl"]["total"]["interval"]
    assert micros(interval["low"]) < 500_000 < micros(interval["high"])
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "The 20 best and 20 worst of 45 markets" in page
    assert (figures["hit_rate"]["markets_won"], figures["hit_rate"]["markets_settled"]) == (23, 45)
    assert (out / "pnl_by_market.png").stat().st_size > 10_000
