"""The engine evaluates each market once per batch of frames received together, at the batch's end, and
writes an order there, before the read loop goes back to reading; a book that changes outside a batch is
evaluated at once. Offline: the books are set directly, the order path is observed, nothing is sent."""

from __future__ import annotations

import asyncio
import inspect
import json
from pathlib import Path
from typing import Any

import pytest

from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.config import Config
from kxbtc.core import decisions
from kxbtc.core.books import BookSet
from kxbtc.core.commands import OutgoingOrder
from kxbtc.domain.events import BookSnapshot, IndexTick, MarketListed
from kxbtc.domain.instrument import Instrument
from kxbtc.domain.orders import OrderIntent
from kxbtc.engine.core import Engine
from kxbtc.kalshi.auth import Signer
from kxbtc.kalshi.rest import KalshiRestClient
from kxbtc.kalshi.ws import KalshiWsClient
from kxbtc.sim.harness import generate_key_pair
from kxbtc.store.db import SqliteStore
from kxbtc.store.intents import intents_path
from kxbtc.strategy.base import Decision, DecisionContext, MarketState, OracleView, Strategy
from kxbtc.units import Count, Money, Price

NOW = 1_780_315_200 * NS_PER_S
URL = "http://127.0.0.1:9/trade-api/v2"


class _Recorder(Strategy):
    """Notes every evaluation; asks for a one-cent bid on each market in ``orders_on`` (one-letter
    tickers)."""

    name = "recorder"

    def __init__(self, orders_on: str) -> None:
        self.seen: list[str] = []
        self.orders_on = orders_on

    def on_book(self, market: MarketState, oracle: OracleView, ctx: DecisionContext) -> list[Decision]:
        ticker = market.contract.ticker
        self.seen.append(ticker)
        if ticker not in self.orders_on:
            return []
        intent = OrderIntent(ticker, "bid", Price(100), Count(100), self.name, "test", "fill_or_kill")
        return [Decision(intent, {})]


def _engine(
    tmp_path: Path, strategy: _Recorder, *, run_tasks: bool = False
) -> tuple[Engine, SqliteStore, list[str]]:
    clock = ManualClock(NOW)
    key = generate_key_pair()
    signer = Signer(key.key_id, key.private_key_pem, clock)
    store = SqliteStore(tmp_path / "kxbtc.db")
    rest = KalshiRestClient(URL, signer, clock)
    engine = Engine(
        Config(),
        rest=rest,
        ws=KalshiWsClient("ws://127.0.0.1:9/trade-api/ws/v2", signer, clock),
        store=store,
        clock=clock,
        run_id="batches",
        strategies=[strategy],
        simulated=True,
    )
    core = engine.core
    core.books = books = BookSet()
    core.account.anchor = Money(1_000_000_000)  # $1,000 of cash, as reconciled at start
    core.update_equity()
    core.handle(IndexTick(NOW, 100_000.0, "simulator"))
    for ticker in ("A", "B", "C"):
        instrument = Instrument(
            ticker, "EV", "KXBTCD", "greater", 100_000.0, None, NOW - 600 * NS_PER_S, NOW + 600 * NS_PER_S
        )
        core.handle(MarketListed(instrument, NOW))
        books.apply(BookSnapshot(ticker, ((4000, 1000),), ((5000, 1000),), NOW))
    # What happens on the wire, in order: the order path is observed, never connected.
    events: list[str] = []

    def start(order: OutgoingOrder) -> None:
        if order.client_order_id.encode() in intents_path(store.path).read_bytes():
            events.append(f"written ahead {order.order.intent.ticker}")
        events.append(f"sent {order.order.intent.ticker}")

    def spawn(work: Any, what: str) -> None:
        work.close()  # the answer's task: not run here

    engine.router.start = start  # type: ignore[assignment,method-assign]
    if not run_tasks:
        engine._spawn = spawn  # type: ignore[method-assign]
    return engine, store, events


def _book_changed(engine: Engine, ticker: str) -> None:
    engine.on_orderbook(ticker, engine.core.books.get(ticker), None)  # type: ignore[arg-type]


def test_a_burst_of_frames_is_one_evaluation_per_market_at_the_end(tmp_path: Path) -> None:
    strategy = _Recorder(orders_on="B")
    engine, store, events = _engine(tmp_path, strategy)
    try:
        engine.on_batch_start()
        for ticker in ("B", "A", "B", "C", "B", "A"):
            _book_changed(engine, ticker)
        assert strategy.seen == []  # nothing evaluated while the batch's frames are applied
        engine.on_batch_end()
        assert strategy.seen == ["A", "B", "C"]
        # The order is written (its intended row ahead of it) before on_batch_end returns, i.e. before
        # the read loop reads the next frame.
        assert events == ["written ahead B", "sent B"]
    finally:
        store.close()


def test_a_book_changed_outside_a_batch_is_evaluated_at_once(tmp_path: Path) -> None:
    strategy = _Recorder(orders_on="none")
    engine, store, _ = _engine(tmp_path, strategy)
    try:
        _book_changed(engine, "C")
        assert strategy.seen == ["C"]
    finally:
        store.close()


def test_the_evaluations_records_reach_the_store_after_the_send(tmp_path: Path) -> None:
    strategy = _Recorder(orders_on="A")
    engine, store, events = _engine(tmp_path, strategy)
    queued_at_send: list[int] = []
    start = engine.router.start

    def watching(order: OutgoingOrder) -> None:
        queued_at_send.append(store._writer._queue.qsize())
        start(order)  # type: ignore[operator]

    engine.router.start = watching  # type: ignore[assignment,method-assign]
    try:
        store.flush()  # what the setup wrote is committed: the queue is empty
        engine.on_batch_start()
        store.set_value("seen", "a record another frame of the batch made")
        _book_changed(engine, "A")
        engine.on_batch_end()
        assert events[-1] == "sent A"
        assert queued_at_send == [0]  # the batch's records were held until the order was out
        store.flush()
        assert [o.client_order_id for o in store.orders()] != []
    finally:
        store.close()


def test_every_order_of_a_batch_is_sent_before_the_tasks_awaiting_answers_are_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    strategy = _Recorder(orders_on="AC")
    engine, store, events = _engine(tmp_path, strategy, run_tasks=True)

    def ensure_future(work: Any) -> Any:
        events.append("task")
        inspect.getcoroutinelocals(work)["work"].close()  # the answer's task: not run here
        work.close()
        return _Done()

    monkeypatch.setattr(asyncio, "ensure_future", ensure_future)
    try:
        engine.on_batch_start()
        for ticker in ("C", "A", "B"):
            _book_changed(engine, ticker)
        engine.on_batch_end()
        # The second market's order does not wait for the first one's answer task to be made.
        assert events == ["written ahead A", "sent A", "written ahead C", "sent C", "task", "task"]
    finally:
        store.close()


class _Done:
    def add_done_callback(self, callback: Any) -> None:
        pass


def test_decision_records_are_encoded_after_the_batchs_orders_and_kept_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    strategy = _Recorder(orders_on="AB")
    engine, store, events = _engine(tmp_path, strategy)
    dumps = json.dumps

    def counting(*args: Any, **kwargs: Any) -> str:
        events.append("encoded")
        return dumps(*args, **kwargs)

    monkeypatch.setattr(decisions.json, "dumps", counting)
    try:
        engine.on_batch_start()
        for ticker in ("B", "A", "C"):
            _book_changed(engine, ticker)
        engine.on_batch_end()
        sent = [e for e in events if e.startswith("sent")]
        assert sent == ["sent A", "sent B"]
        assert events.index("encoded") > events.index("sent B")  # no JSON before the last order is out
        store.flush()
        rows = store._conn.execute("SELECT ticker, intent FROM decisions ORDER BY id").fetchall()
        assert [r[0] for r in rows] == ["A", "B"] and all('"approved' in r[1] for r in rows)
    finally:
        store.close()


def _two_orders_on_one_market(tmp_path: Path, free_connections: int) -> tuple[list[str], list[list[str]]]:
    """Two strategies each want an order on market B in one evaluation: the strategies whose order was
    written at once (one call each), and the groups that went afterwards through the usual path."""
    tmp_path.mkdir()
    engine, store, _ = _engine(tmp_path, _Recorder(orders_on="B"))
    second = _Recorder(orders_on="B")
    second.name = "recorder2"
    engine.core.strategies.append(second)
    started: list[str] = []
    later: list[list[str]] = []

    def start(order: OutgoingOrder) -> object | None:
        if len(started) == free_connections:
            return None
        started.append(order.order.intent.strategy)
        return object()

    async def answers() -> list[Any]:
        return []

    def submit(orders: list[OutgoingOrder], begun: object | None = None) -> Any:
        if begun is None:
            later.append([o.order.intent.strategy for o in orders])
        return answers()

    engine.router.start = start  # type: ignore[assignment,method-assign]
    engine._submit = submit  # type: ignore[assignment,method-assign]
    try:
        engine.on_batch_start()
        _book_changed(engine, "B")
        engine.on_batch_end()
        return started, later
    finally:
        store.close()


def test_two_orders_decided_together_each_go_out_at_once_on_their_own(tmp_path: Path) -> None:
    """Each order is written at once on a kept-alive connection of its own, not held for one batch
    request through the usual (slow) path; what finds no free connection goes together afterwards."""
    assert _two_orders_on_one_market(tmp_path / "two", 2) == (["recorder", "recorder2"], [])
    assert _two_orders_on_one_market(tmp_path / "one", 1) == (["recorder"], [["recorder2"]])
    assert _two_orders_on_one_market(tmp_path / "none", 0) == ([], [["recorder", "recorder2"]])
