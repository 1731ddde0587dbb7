"""The replay through the trading core on tiny recordings written here, line by line: exact fills, fees,
P&L and refusals.

Each recording is what ``kxbtc record`` writes (header, market definition, raw WebSocket frames with
their receive times), small enough that every expected figure can be worked out by hand.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kxbtc.backtest.recording import FORMAT, VERSION, Recording, RecordingError
from kxbtc.cli import EXIT_OK, EXIT_USAGE, cli
from kxbtc.clock import NS_PER_MS, NS_PER_S
from kxbtc.config import Config, StrategyConfig
from kxbtc.domain.orders import OrderIntent
from kxbtc.recordings.kxbtc_file import KxbtcRecording
from kxbtc.replay.report import ReplayReport, outcomes
from kxbtc.replay.runner import ReplayRunner, ReplaySettings
from kxbtc.store.db import SqliteStore
from kxbtc.strategy.base import Decision, DecisionContext, MarketState, OracleView, Strategy
from kxbtc.units import Count, Price

OPEN_NS = 1_780_315_200 * NS_PER_S  # 2026-06-01 12:00:00 UTC, a quarter-hour boundary
CLOSE_NS = OPEN_NS + 900 * NS_PER_S
START_NS = OPEN_NS + 60 * NS_PER_S  # the recording starts a minute into the window
TICKER = "KXBTC15M-26JUN010815-15"
BOOK_SID, INDEX_SID, LIFECYCLE_SID = 3, 2, 1


class RecordingBuilder:
    """Writes a recording: times are seconds after START_NS, frames are the exchange's wire shapes."""

    def __init__(self, path: Path, *, version: int = VERSION) -> None:
        self.path = path
        self.lines: list[dict[str, Any]] = [
            {
                "t": START_NS,
                "k": "header",
                "format": FORMAT,
                "version": version,
                "series": ["KXBTC15M"],
                "rest_url": "http://127.0.0.1:1/trade-api/v2",
                "ws_url": "ws://127.0.0.1:1/trade-api/ws/v2",
                "use_yes_price": True,
            }
        ]
        self.seq = {BOOK_SID: 0, INDEX_SID: 0, LIFECYCLE_SID: 0}

    @staticmethod
    def at(seconds: float) -> int:
        return START_NS + round(seconds * 1000) * NS_PER_MS

    def add(self, seconds: float, kind: str, **body: Any) -> None:
        self.lines.append({"t": self.at(seconds), "k": kind, **body})

    def frame(self, seconds: float, frame: dict[str, Any]) -> None:
        self.add(seconds, "ws", frame=frame)

    def _next(self, sid: int, skip: int = 0) -> int:
        self.seq[sid] += 1 + skip
        return self.seq[sid]

    def start(self, strike: str = "100000.00") -> None:
        """Connected, the market defined, the three subscriptions acknowledged."""
        self.add(0, "connection", up=True)
        self.add(
            0,
            "market",
            ticker=TICKER,
            event_ticker="KXBTC15M-26JUN010815",
            series_ticker="KXBTC15M",
            status="active",
            strike_type="greater_or_equal",
            floor_strike=strike,
            cap_strike=None,
            open_time_ns=OPEN_NS,
            close_time_ns=CLOSE_NS,
            exchange_index=2,
            price_ranges=[{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
            fee_type="quadratic",
            fee_multiplier="1",
            yes_sub_title="",
        )
        for sid, channel in (
            (LIFECYCLE_SID, "market_lifecycle_v2"),
            (INDEX_SID, "cfbenchmarks_value"),
            (BOOK_SID, "orderbook_delta"),
        ):
            self.frame(0, {"type": "subscribed", "id": sid, "msg": {"channel": channel, "sid": sid}})

    def index(self, seconds: float, value: str = "100100.00") -> None:
        """One BRTI print for the whole second ``seconds`` after the start."""
        ms = self.at(seconds) // NS_PER_MS
        data = json.dumps({"type": "value", "id": "BRTI", "time": ms, "value": value})
        avg = {"value": value, "window_size": 60, "window_start_ts_ms": ms, "window_end_ts_exclusive": ms}
        msg = {"index_id": "BRTI", "received_at": ms, "data": data, "avg_60s_data": avg}
        self.frame(
            seconds,
            {"type": "cfbenchmarks_value", "sid": INDEX_SID, "seq": self._next(INDEX_SID), "msg": msg},
        )

    def snapshot(
        self, seconds: float, yes: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]]
    ) -> None:
        """A book snapshot: YES bids, and YES asks (the NO bids in YES prices, as ``use_yes_price`` sends)."""
        msg = {
            "market_ticker": TICKER,
            "yes_dollars_fp": [list(x) for x in yes],
            "no_dollars_fp": [list(x) for x in asks],
        }
        self.frame(
            seconds, {"type": "orderbook_snapshot", "sid": BOOK_SID, "seq": self._next(BOOK_SID), "msg": msg}
        )

    def delta(self, seconds: float, side: str, price: str, delta: str, *, skip: int = 0) -> None:
        msg = {"market_ticker": TICKER, "price_dollars": price, "delta_fp": delta, "side": side}
        seq = self._next(BOOK_SID, skip)
        self.frame(seconds, {"type": "orderbook_delta", "sid": BOOK_SID, "seq": seq, "msg": msg})

    def determined(self, seconds: float, result: str) -> None:
        msg = {"event_type": "determined", "market_ticker": TICKER, "result": result}
        seq = self._next(LIFECYCLE_SID)
        self.frame(seconds, {"type": "market_lifecycle_v2", "sid": LIFECYCLE_SID, "seq": seq, "msg": msg})

    def write(self) -> Path:
        """The lines in receive-time order (as a recorder writes them), the header first."""
        ordered = sorted(self.lines[1:], key=lambda line: int(line["t"]))
        self.path.write_text("".join(json.dumps(line) + "\n" for line in [self.lines[0], *ordered]))
        return self.path


class BuyOnce(Strategy):
    """Buys 10 YES contracts, fill-or-kill at 0.45, the first time the YES ask is at or below 0.45."""

    name = "buy_once"

    def __init__(self, time_in_force: str = "fill_or_kill") -> None:
        super().__init__(StrategyConfig())
        self.time_in_force = time_in_force
        self.sent_at: list[int] = []

    def on_book(self, market: MarketState, oracle: OracleView, ctx: DecisionContext) -> list[Decision]:
        ask = market.book.yes_ask()
        if self.sent_at or ask is None or ask > 4500:
            return []
        self.sent_at.append(ctx.now_ns)
        intent = OrderIntent(
            market.contract.ticker, "bid", Price(4500), Count(1000), self.name, "test", self.time_in_force
        )
        return [Decision(intent, {})]


@dataclass
class Replayed:
    report: ReplayReport
    runner: ReplayRunner

    @property
    def market(self) -> dict[str, Any]:
        [only] = self.report.to_json()["by_market"] or [{}]
        return only


def _replay(path: Path, strategy: Strategy, latency_ms: float = 250, tmp: Path | None = None) -> Replayed:
    store_path = (tmp or path.parent) / f"replay-{latency_ms}-{strategy.name}.db"
    store_path.unlink(missing_ok=True)
    store = SqliteStore(store_path)
    try:
        runner = ReplayRunner(
            Config(),
            KxbtcRecording(path),
            ReplaySettings(latency_ms=latency_ms, index="kalshi"),
            store,
            strategies=[strategy],
        )
        runner.run()
        report = ReplayReport([path.name], latency_ms, "kalshi", outcomes(runner))
    finally:
        store.close()
    return Replayed(report, runner)


def _index_every_second(b: RecordingBuilder, until_s: int) -> None:
    for s in range(0, until_s):
        b.index(s + 0.5)


def test_a_known_taker_order_fills_at_the_ask_with_the_exchange_fee_and_settles(tmp_path: Path) -> None:
    b = RecordingBuilder(tmp_path / "r.jsonl")
    b.start()
    b.index(0.5)
    b.snapshot(1.0, yes=[("0.4000", "20.00")], asks=[("0.4500", "50.00"), ("0.4700", "30.00")])
    _index_every_second(b, 5)
    b.determined(840.0 + 1, "yes")  # just after the close (the recording starts 60 s into the window)
    strategy = BuyOnce()
    done = _replay(b.write(), strategy)

    assert strategy.sent_at == [b.at(1.0)]  # decided on the snapshot itself, as the engine would
    report = done.report
    assert (report.trades, report.markets[0].contracts) == (1, 10.0)
    # 10 YES at $0.45: fee = ceil(0.07 x 10 x 0.45 x 0.55, to $0.0001) = $0.1733; YES wins $10.
    assert report.fees == 173_300
    assert report.markets[0].gross == 5_500_000
    assert report.net == 5_326_700
    assert done.runner.settled_by == {TICKER: "stream"}
    assert done.runner.counts.unfilled == {}


def test_without_a_recorded_result_the_position_is_valued_at_its_last_mid(tmp_path: Path) -> None:
    b = RecordingBuilder(tmp_path / "r.jsonl")
    b.start()
    b.index(0.5)
    b.snapshot(1.0, yes=[("0.4000", "20.00")], asks=[("0.4500", "50.00")])
    _index_every_second(b, 5)
    done = _replay(b.write(), BuyOnce())
    [market] = done.report.markets
    assert not market.settled and market.result == ""
    # Bought 10 at 0.45, marked at the mid (0.40 + 0.45) / 2 = 0.425: -$0.25 before fees.
    assert market.gross == -250_000


def test_an_ask_that_vanishes_within_the_latency_is_not_filled(tmp_path: Path) -> None:
    b = RecordingBuilder(tmp_path / "r.jsonl")
    b.start()
    b.index(0.5)
    b.snapshot(1.0, yes=[("0.4000", "20.00")], asks=[("0.4500", "50.00")])
    b.delta(1.1, "no", "0.4500", "-50.00")  # the ask is taken by someone else 100 ms later
    b.delta(1.2, "no", "0.4800", "40.00")
    _index_every_second(b, 5)
    slow = _replay(b.write(), BuyOnce(), latency_ms=250)
    assert (slow.runner.counts.orders, slow.report.trades) == (1, 0)
    assert slow.runner.counts.unfilled == {"no_liquidity_at_limit": 1}
    assert slow.report.net == 0

    # With a faster connection the same order lands before the ask goes.
    fast = _replay(b.path, BuyOnce(), latency_ms=50)
    assert (fast.runner.counts.orders, fast.report.trades, fast.report.markets[0].contracts) == (1, 1, 10.0)


def test_never_more_than_the_displayed_size(tmp_path: Path) -> None:
    b = RecordingBuilder(tmp_path / "r.jsonl")
    b.start()
    b.index(0.5)
    b.snapshot(
        1.0, yes=[("0.4000", "20.00")], asks=[("0.4400", "3.00"), ("0.4500", "4.00"), ("0.4600", "9.00")]
    )
    _index_every_second(b, 5)
    fok = _replay(b.write(), BuyOnce("fill_or_kill"))
    assert fok.report.trades == 0 and fok.runner.counts.unfilled == {"no_liquidity_at_limit": 1}
    ioc = _replay(b.path, BuyOnce("immediate_or_cancel"))
    # 3 at 0.44 and 4 at 0.45: two fills, 7 contracts, nothing from the 0.46 level above the limit.
    assert (ioc.report.trades, ioc.report.markets[0].contracts) == (2, 7.0)
    assert ioc.report.fees == 121_100  # ceil(0.07*3*.44*.56) = 0.0518, plus 0.07*4*.45*.55 = 0.0693


def test_a_good_till_canceled_remainder_rests_and_is_cancelled_at_the_close(tmp_path: Path) -> None:
    b = RecordingBuilder(tmp_path / "r.jsonl")
    b.start()
    b.index(0.5)
    b.snapshot(1.0, yes=[("0.4000", "20.00")], asks=[("0.4600", "50.00")])
    b.delta(1.5, "no", "0.4500", "5.00")  # a 0.45 ask of 5 appears: the strategy bids 10 at 0.45
    _index_every_second(b, 3)
    b.determined(840.0 + 1, "yes")
    done = _replay(b.write(), BuyOnce("good_till_canceled"))
    assert done.report.markets[0].contracts == 5.0  # the 5 shown, taken; the other 5 rest at 0.45
    assert done.runner.counts.rested == 1
    assert done.runner.counts.resting_canceled == {"market_closed": 1}


def test_a_seq_gap_makes_the_book_stale_and_nothing_trades_until_the_next_snapshot(tmp_path: Path) -> None:
    b = RecordingBuilder(tmp_path / "r.jsonl")
    b.start()
    b.index(0.5)
    b.snapshot(1.0, yes=[("0.4000", "20.00")], asks=[("0.6000", "50.00")])
    b.delta(2.0, "yes", "0.4100", "5.00")
    b.delta(3.0, "no", "0.4500", "50.00", skip=1)  # seq 4 after 2: a frame was lost
    b.delta(4.0, "no", "0.4400", "50.00")  # would be a cheap ask, but the book waits for a snapshot
    _index_every_second(b, 8)
    b.snapshot(7.0, yes=[("0.4000", "20.00")], asks=[("0.4500", "50.00")])
    strategy = BuyOnce()
    done = _replay(b.write(), strategy)
    assert strategy.sent_at == [b.at(7.0)]  # not at 3.0 or 4.0, nor on the ticks between
    assert done.report.trades == 1


def test_the_same_recording_gives_the_same_report(tmp_path: Path) -> None:
    b = RecordingBuilder(tmp_path / "r.jsonl")
    b.start()
    b.index(0.5)
    b.snapshot(1.0, yes=[("0.4000", "20.00")], asks=[("0.4500", "50.00")])
    _index_every_second(b, 5)
    first = _replay(b.write(), BuyOnce())
    second = _replay(b.path, BuyOnce())
    assert first.report.to_json() == second.report.to_json()


def test_a_corrupt_line_is_a_clear_error_naming_the_line(tmp_path: Path) -> None:
    b = RecordingBuilder(tmp_path / "r.jsonl")
    b.start()
    path = b.write()
    with path.open("a") as fh:
        fh.write('{"t": 1, "k": "ws", "frame": {"type"\n')
        fh.write("{}\n")
    bad_line = len(b.lines) + 1
    with pytest.raises(RecordingError, match=f"line {bad_line}: not JSON"):
        _replay(path, BuyOnce())

    result = CliRunner().invoke(cli, ["backtest", "--replay", str(path)])
    assert result.exit_code == EXIT_USAGE
    assert f"r.jsonl: line {bad_line}: not JSON" in result.stderr


def test_an_unknown_kind_or_version_is_refused(tmp_path: Path) -> None:
    b = RecordingBuilder(tmp_path / "r.jsonl")
    b.add(0, "telemetry")
    with pytest.raises(RecordingError, match="line 2: unknown kind 'telemetry'"):
        _replay(b.write(), BuyOnce())
    newer = RecordingBuilder(tmp_path / "v9.jsonl", version=9).write()
    with pytest.raises(RecordingError, match="line 1: unsupported version 9"):
        Recording(newer)
    other = tmp_path / "other.jsonl"
    other.write_text('{"t": 1, "k": "ws", "frame": {}}\n')
    with pytest.raises(RecordingError, match="line 1: not a kxbtc-recording file"):
        Recording(other)


def test_a_recording_cut_off_mid_line_replays_up_to_the_cut(tmp_path: Path) -> None:
    b = RecordingBuilder(tmp_path / "r.jsonl")
    b.start()
    b.index(0.5)
    b.snapshot(1.0, yes=[("0.4000", "20.00")], asks=[("0.4500", "50.00")])
    _index_every_second(b, 3)
    path = b.write()
    with path.open("a") as fh:
        fh.write('{"t": 99, "k": "ws", "fra')  # the recorder was killed while writing
    done = _replay(path, BuyOnce())
    assert done.report.trades == 1


def test_backtest_replay_command_prints_the_json_report(tmp_path: Path) -> None:
    b = RecordingBuilder(tmp_path / "r.jsonl")
    b.start()
    b.index(0.5)
    b.snapshot(1.0, yes=[("0.4000", "20.00")], asks=[("0.4500", "50.00")])
    _index_every_second(b, 5)
    b.determined(841.0, "no")
    config = tmp_path / "buy.toml"
    # The default strategies on this recording: whatever they do, the report has the promised shape.
    config.write_text("[strategies.fair_value]\nenabled = true\n")
    args = ["backtest", "--replay", str(b.write()), "--latency-ms", "50", "--json", "--config", str(config)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == EXIT_OK, result.output
    report = json.loads(result.stdout)
    assert {"markets", "trades", "fees", "net_pnl"} <= set(report)
    assert isinstance(report["net_pnl"], float) and report["latency_ms"] == 50.0
    assert report["markets"] == 1
