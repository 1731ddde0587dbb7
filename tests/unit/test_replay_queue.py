"""The resting-order (queue position) fill model on hand-built books: the rules of ``kxbtc.replay.queue``
one by one, then through the replay runner on tiny recordings where every figure is worked out by hand.

Sizes are ``Count`` (1/100 contract), prices ``Price`` (1/10,000 dollar), fees ``Money`` (1e-6 dollar).
"""

from __future__ import annotations

from pathlib import Path

from test_replay import TICKER, RecordingBuilder, _replay

from kxbtc.book.orderbook import OrderBook
from kxbtc.config import StrategyConfig
from kxbtc.domain.orders import OrderIntent
from kxbtc.pricing.fees import FeeSchedule
from kxbtc.replay.queue import QueueModel
from kxbtc.store.db import SqliteStore
from kxbtc.store.records import FillRecord
from kxbtc.strategy.base import Decision, DecisionContext, MarketState, OracleView, Strategy
from kxbtc.units import Count, Price

MAKER_FEES = FeeSchedule("quadratic_with_maker_fees")
P45 = Price(4500)


def _book(yes: list[tuple[int, int]], asks: list[tuple[int, int]]) -> OrderBook:
    """YES bids and YES asks (in YES prices); tolerating a cross, as the core's books do."""
    book = OrderBook(TICKER, tolerate_cross=True)
    book.apply_snapshot(yes, asks, no_in_yes_prices=True)
    return book


def _bid_yes(book: OrderBook, price: int, delta: int) -> None:
    book.apply_delta("yes", price, delta, no_in_yes_prices=True)


def _ask_yes(book: OrderBook, price: int, delta: int) -> None:
    book.apply_delta("no", price, delta, no_in_yes_prices=True)


def _rest_bid(model: QueueModel, book: OrderBook, count: int = 1000) -> None:
    model.join("o1", "c1", TICKER, "bid", P45, count, 0, MAKER_FEES, book)


# -- the rules on the model itself -----------------------------------------------------------------


def test_an_order_joins_the_back_and_advances_only_as_size_disappears() -> None:
    book = _book([(4500, 2000), (4000, 500)], [(5000, 3000)])
    model = QueueModel()
    _rest_bid(model, book)
    [order] = model.orders()
    assert order.ahead == 2000  # everything displayed at 0.45 when it arrived
    _bid_yes(book, 4500, 1000)  # size added after us is behind us
    assert model.on_book(TICKER, book) == [] and order.ahead == 2000
    _bid_yes(book, 4500, -1500)  # 30 -> 15: a trade or a cancel; assume what is left is all ahead
    assert model.on_book(TICKER, book) == [] and order.ahead == 1500
    _bid_yes(book, 4500, 500)  # grows again: changes nothing
    assert model.on_book(TICKER, book) == [] and order.ahead == 1500
    _bid_yes(book, 4500, -2000)  # the level empties: front of the queue, but nothing traded through us
    assert model.on_book(TICKER, book) == [] and order.ahead == 0
    assert order.remaining == 1000


def test_a_crossing_seller_fills_what_is_ahead_first_then_us_never_beyond_its_size() -> None:
    book = _book([(4500, 1500)], [(5000, 3000)])
    model = QueueModel()
    _rest_bid(model, book)
    _ask_yes(book, 4500, 2000)  # a seller's 20 at 0.45 shows before the removals it causes
    [fill] = model.on_book(TICKER, book)
    assert fill.count == 500  # 15 ahead of us, then 5 to us
    assert fill.order.remaining == 500 and fill.order.ahead == 0
    assert fill.fee == 21_700  # maker: ceil(0.0175 x 5 x 0.45 x 0.55 = 0.02165625, to $0.0001)
    _bid_yes(book, 4500, -1500)  # the removals: the level is gone, what the seller left shows
    _ask_yes(book, 4500, -1500)
    assert model.on_book(TICKER, book) == []  # the 5 left at 0.45 were counted already
    _bid_yes(book, 4000, 100)  # an unrelated change: the same size is never counted twice
    assert model.on_book(TICKER, book) == []
    _ask_yes(book, 4400, 300)  # a new seller through our price: 3 more
    [more] = model.on_book(TICKER, book)
    assert (more.count, more.order.remaining, more.order.filled) == (300, 200, 800)


def test_better_bids_trade_before_our_level() -> None:
    book = _book([(4700, 1000), (4500, 500)], [(5000, 3000)])
    model = QueueModel()
    _rest_bid(model, book)
    _ask_yes(book, 4400, 1800)  # sells 18 down to 0.44: 10 at 0.47, 5 ahead at 0.45, then 3 to us
    [fill] = model.on_book(TICKER, book)
    assert fill.count == 300


def test_an_ask_fills_when_the_yes_bids_reach_its_price() -> None:
    book = _book([(4000, 1000)], [(5500, 700), (6000, 500)])
    model = QueueModel()
    model.join("o1", "c1", TICKER, "ask", Price(5500), 1000, 0, MAKER_FEES, book)
    [order] = model.orders()
    assert order.ahead == 700
    _bid_yes(book, 5000, 2000)  # bids rise, but not to 0.55
    assert model.on_book(TICKER, book) == []
    _bid_yes(book, 5500, 1200)  # a buyer's 12 at 0.55: 7 ahead, then 5 to us
    [fill] = model.on_book(TICKER, book)
    assert (fill.count, fill.order.remaining) == (500, 500)


def test_a_filled_or_cancelled_order_leaves_the_model() -> None:
    book = _book([(4000, 1000)], [(5000, 3000)])
    model = QueueModel()
    _rest_bid(model, book, count=200)
    _ask_yes(book, 4500, 900)
    [fill] = model.on_book(TICKER, book)
    assert fill.count == 200 and fill.order.remaining == 0 and len(model) == 0
    _rest_bid(model, book)
    assert model.cancel("o1") is not None and model.cancel("o1") is None and not model.has_orders(TICKER)


def _fills(tmp_path: Path) -> list[FillRecord]:
    """The fills the last 50 ms replay of ``RestOnce`` booked (its store, as ``_replay`` named it)."""
    store = SqliteStore(tmp_path / "replay-50-rest_once.db")
    try:
        return store.fills()
    finally:
        store.close()


# -- through the replay runner ---------------------------------------------------------------------


class RestOnce(Strategy):
    """Bids 10 YES at 0.45, good till canceled, on the first tradeable book."""

    name = "rest_once"

    def __init__(self) -> None:
        super().__init__(StrategyConfig())
        self.sent = False

    def on_book(self, market: MarketState, oracle: OracleView, ctx: DecisionContext) -> list[Decision]:
        if self.sent:
            return []
        self.sent = True
        intent = OrderIntent(
            market.contract.ticker, "bid", P45, Count(1000), self.name, "test", "good_till_canceled"
        )
        return [Decision(intent, {})]


def _market(tmp_path: Path, *, maker_fees: bool = False, settle: bool = True) -> RecordingBuilder:
    """Our bid rests at 0.45 behind 20; the level grows, shrinks, then a seller crosses it."""
    b = RecordingBuilder(tmp_path / "r.jsonl")
    b.start()
    if maker_fees:
        [market] = [line for line in b.lines if line["k"] == "market"]
        market["fee_type"] = "quadratic_with_maker_fees"
    b.index(0.5)
    b.snapshot(1.0, yes=[("0.4500", "20.00"), ("0.4000", "5.00")], asks=[("0.5000", "30.00")])
    b.delta(2.0, "yes", "0.4500", "10.00")  # joins behind us: ahead stays 20
    b.delta(3.0, "yes", "0.4500", "-15.00")  # 30 -> 15: ahead 15
    b.delta(4.0, "no", "0.4500", "20.00")  # a seller's 20 at 0.45 (crossing add): 15 ahead, 5 to us
    b.delta(4.0, "yes", "0.4500", "-15.00")  # the removals it causes, in the same millisecond
    b.delta(4.0, "no", "0.4500", "-15.00")
    b.delta(5.0, "no", "0.4500", "3.00")  # 3 more offered at 0.45: 3 to us (2 left)
    b.delta(6.0, "yes", "0.4000", "1.00")  # unrelated: nothing more
    for s in range(8):
        b.index(s + 0.5)
    if settle:
        b.determined(840.0 + 1, "yes")
    return b


def test_a_resting_bid_fills_only_as_the_recorded_market_trades_through_it(tmp_path: Path) -> None:
    done = _replay(_market(tmp_path).write(), RestOnce(), latency_ms=50)
    counts = done.runner.counts
    assert (counts.orders, counts.rested, counts.maker_fills) == (1, 1, 2)
    assert counts.resting_canceled == {"market_closed": 1}  # the last 2 when the market closed
    [market] = done.report.markets
    assert (market.fills, market.contracts) == (2, 8.0)
    assert done.report.fees == 0  # plain ``quadratic`` series charge makers nothing
    assert market.gross == 4_400_000  # 8 YES bought at 0.45 win $1 each
    fills = _fills(tmp_path)
    assert [(f.count, f.price, f.is_taker) for f in fills] == [(500, 4500, False), (300, 4500, False)]
    # Stamped when the recorded book produced them (delivered to the core one latency later).
    assert [f.ts_ns for f in fills] == [RecordingBuilder.at(4.0), RecordingBuilder.at(5.0)]
    assert done.runner.core.orders.resting.worst_case() == 0  # the core saw the cancel


def test_the_core_counts_the_resting_remainder_in_its_risk_budget(tmp_path: Path) -> None:
    done = _replay(_market(tmp_path, settle=False).write(), RestOnce(), latency_ms=50)
    resting = done.runner.core.orders.resting
    # 2 YES left at 0.45: $0.90 plus the taker fee ceil(0.07 x 2 x 0.2475 = 0.03465) = $0.0347.
    assert resting.worst_case(TICKER) == 934_700


def test_maker_fees_are_exact(tmp_path: Path) -> None:
    done = _replay(_market(tmp_path, maker_fees=True).write(), RestOnce(), latency_ms=50)
    # 5 at 0.45: ceil(0.0175 x 5 x 0.2475 = 0.02165625) = 0.0217; 3: ceil(0.01299375) = 0.0130.
    assert done.report.fees == 34_700


def test_the_queue_is_taken_when_the_order_arrives_not_when_it_was_decided(tmp_path: Path) -> None:
    b = RecordingBuilder(tmp_path / "r.jsonl")
    b.start()
    b.index(0.5)
    b.snapshot(1.0, yes=[("0.4500", "20.00")], asks=[("0.5000", "30.00")])
    b.delta(1.02, "yes", "0.4500", "16.00")  # 16 more join 0.45 while our order travels
    b.delta(3.0, "no", "0.4500", "24.00")  # a seller's 24 at 0.45 (crossing add)
    b.delta(3.0, "yes", "0.4500", "-24.00")  # the removals it causes
    b.delta(3.0, "no", "0.4500", "-24.00")
    for s in range(5):
        b.index(s + 0.5)
    slow = _replay(b.write(), RestOnce(), latency_ms=50)  # arrives at 1.05: 36 ahead, nothing to us
    assert slow.report.trades == 0 and slow.runner.counts.rested == 1
    instant = _replay(b.path, RestOnce(), latency_ms=0)  # arrives at 1.0: 20 ahead, the 16 behind: 4 to us
    assert instant.report.markets[0].contracts == 4.0


def test_the_same_recording_and_settings_give_the_same_fills(tmp_path: Path) -> None:
    b = _market(tmp_path, maker_fees=True)
    first = _replay(b.write(), RestOnce(), latency_ms=50)
    first_fills = _fills(tmp_path)
    second = _replay(b.path, RestOnce(), latency_ms=50)  # the same store path: written afresh
    assert first.report.to_json() == second.report.to_json()
    assert first_fills == _fills(tmp_path) and len(first_fills) == 2


class QuoteUntil(Strategy):
    """A quoter: wants 10 YES bid at 0.45 until ``until_s`` into the recording, then nothing."""

    name = "quote_until"
    quoter = True

    def __init__(self, until_s: float) -> None:
        super().__init__(StrategyConfig())
        self.until_ns = RecordingBuilder.at(until_s)

    def on_book(self, market: MarketState, oracle: OracleView, ctx: DecisionContext) -> list[Decision]:
        if ctx.now_ns >= self.until_ns:
            return []
        intent = OrderIntent(
            market.contract.ticker, "bid", P45, Count(1000), self.name, "test", "good_till_canceled"
        )
        return [Decision(intent, {})]


def test_a_cancelled_quote_leaves_the_queue_one_latency_after_the_cancel(tmp_path: Path) -> None:
    # Wanted until 3.0 s: the core cancels it then, the cancel reaches the market at 3.05 s, and the
    # seller crossing 0.45 at 4.0 s finds nothing of ours.
    done = _replay(_market(tmp_path).write(), QuoteUntil(3.0), latency_ms=50)
    counts = done.runner.counts
    assert (counts.orders, counts.rested, counts.maker_fills) == (1, 1, 0)  # one quote, never re-sent
    assert counts.resting_canceled == {"cancel_orders": 1}
    assert done.report.trades == 0
    core = done.runner.core
    assert core.orders.resting.worst_case() == 0  # the core got the order's update as canceled
    assert core.quotes.resting("quote_until", TICKER) == {}


def test_an_order_can_still_fill_while_its_cancel_travels(tmp_path: Path) -> None:
    # Cancelled at 4.0 s, when the seller's 20 cross 0.45 in the same instant: the cancel reaches the
    # market only at 4.05 s, so the 5 that reach us fill first; the rest is cancelled.
    done = _replay(_market(tmp_path).write(), QuoteUntil(4.0), latency_ms=50)
    counts = done.runner.counts
    assert (counts.maker_fills, counts.resting_canceled) == (1, {"cancel_orders": 1})
    assert done.report.markets[0].contracts == 5.0
    assert done.runner.core.orders.resting.worst_case() == 0
