"""Replay a recording and collect the scored moments: the market's YES mid and the model's probability.

Books are rebuilt from the recorded snapshots and deltas by the production code: one ``KalshiStream``
per WebSocket session (``conn``), one ``BookSet`` for all markets. A book is read only when it is
tradeable (synced since its last snapshot, not inside one of Kalshi's momentary crosses), two-sided,
outside the recording's known gaps (``kxbtc.recordings.gaps``) and not quiet (a frame of its market
within ``book_quiet_s``: a recorder run that stops leaves no stale marker, only silence).

Moments are every whole ``step_s`` of each market's life (open + k·step, before close). At a moment,
every event received at or before it has been applied and nothing later has: the forecast at a moment
depends only on the past. The model prices the market from the last spot trade (it must be at most
``spot_fresh_s`` old) shifted by the basis known so far (``kxbtc.oracle.spot_basis``), the EWMA volatility
of the spot seen so far (``kxbtc.oracle.index_state.IndexState``) and the part of the settlement minute
already seen, with the production ``model_probability``.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from kxbtc.clock import NS_PER_S
from kxbtc.core.books import BookSet
from kxbtc.domain.events import BookDelta, BookSnapshot, BookStale, CoreEvent, IndexTick
from kxbtc.errors import ProtocolError
from kxbtc.kalshi.stream import KalshiStream
from kxbtc.kalshi.ws_messages import decode_frame
from kxbtc.oracle.index_state import IndexState
from kxbtc.oracle.spot_basis import BasisEstimator
from kxbtc.recordings.gaps import KnownGaps, known_gaps
from kxbtc.recordings.source import ConnectionChange, MarketInfo, MarketRecording, SpotTick, WsFrame
from kxbtc.strategy.base import OracleView, model_probability


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    step_s: int = 30
    spot_fresh_s: float = 5.0
    book_quiet_s: float = 10.0
    tail_df: float | None = 6.0
    vol_half_life_s: float = 300.0
    prior_annual_vol: float = 0.5
    basis_markets: int = 4
    basis_delay_s: float = 60.0


@dataclass(frozen=True, slots=True)
class Moment:
    ticker: str
    t_ns: int
    seconds_to_close: float
    market: float  # YES mid
    model: float
    outcome: int  # 1 = YES
    spot: float
    basis: float
    dollar_vol: float
    #: YES bid size / (YES bid + YES ask size) over the top three levels of each side.
    imbalance: float | None = None
    yes_bid: int = 0  # Price
    yes_ask: int = 0  # Price


@dataclass(slots=True)
class ReplayResult:
    moments: list[Moment] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    events: int = 0
    basis_samples: int = 0
    basis_mean: float | None = None


@dataclass(order=True, frozen=True, slots=True)
class _Scheduled:
    t_ns: int
    kind: int  # 0 watch a final minute, 1 release a settlement, 2 score a moment (this order on ties)
    ticker: str


def schedule(
    markets: dict[str, MarketInfo], options: ReplayOptions, basis: BasisEstimator
) -> list[_Scheduled]:
    step = options.step_s * NS_PER_S
    out: list[_Scheduled] = []
    for m in markets.values():
        first = -(-m.open_ns // step) * step
        out += [
            _Scheduled(t, 2, m.ticker)
            for t in range(first if first > m.open_ns else first + step, m.close_ns, step)
        ]
        if m.settlement_value is not None:
            out.append(_Scheduled(m.close_ns - 90 * NS_PER_S, 0, m.ticker))
            out.append(_Scheduled(basis.release_time(m.close_ns), 1, m.ticker))
    out.sort()
    return out


class MomentReplay:
    """One pass over one recording."""

    def __init__(self, recording: MarketRecording, options: ReplayOptions) -> None:
        self.recording = recording
        self.options = options
        self.markets = recording.markets()
        self.gaps: KnownGaps = known_gaps(recording)
        self.books = BookSet()
        self.streams: dict[str, KalshiStream] = {}
        self.index = IndexState(
            prior_annual_vol=options.prior_annual_vol,
            half_life_s=options.vol_half_life_s,
            stale_after_s=options.spot_fresh_s,
        )
        self.basis = BasisEstimator(markets=options.basis_markets, delay_s=options.basis_delay_s)
        self.last_book_ns: dict[str, int] = {}
        self.result = ReplayResult()

    def run(self) -> ReplayResult:
        pending = schedule(self.markets, self.options, self.basis)
        i = 0
        for event in self.recording.events():
            while i < len(pending) and pending[i].t_ns < event.t_ns:
                self._scheduled(pending[i])
                i += 1
            self.result.events += 1
            self._event(event)
        for item in pending[i:]:
            self._scheduled(item)
        samples = self.basis.samples
        self.result.basis_samples = len(samples)
        self.result.basis_mean = sum(s.value for s in samples) / len(samples) if samples else None
        return self.result

    # -- events -----------------------------------------------------------------------------------

    def _event(self, event: WsFrame | SpotTick | ConnectionChange) -> None:
        if isinstance(event, SpotTick):
            self._spot(event.t_ns, event.price)
        elif isinstance(event, WsFrame):
            stream = self._stream(event.conn)
            try:
                msg = decode_frame(event.frame)
            except ProtocolError as exc:
                self._book_events(stream.bad_frame(event.t_ns, str(exc), event.frame), event.t_ns)
                return
            self._book_events(stream.on_message(msg, event.t_ns), event.t_ns)
        elif not event.up:
            self._book_events(self._stream(event.conn).disconnected(event.t_ns), event.t_ns)

    def _stream(self, conn: str) -> KalshiStream:
        stream = self.streams.get(conn)
        if stream is None:
            stream = KalshiStream(
                use_yes_price=self.recording.use_yes_price,
                accept_unannounced_sids=self.recording.accept_unannounced_sids,
            )
            self.streams[conn] = stream
        return stream

    def _book_events(self, events: list[CoreEvent], t_ns: int) -> None:
        for ev in events:
            if isinstance(ev, BookSnapshot | BookDelta | BookStale):
                if isinstance(ev, BookSnapshot) and self.books.get(ev.ticker) is None:
                    market = self.markets.get(ev.ticker)
                    self.books.add(ev.ticker, market.grid if market else None)
                self.books.apply(ev)
                if not isinstance(ev, BookStale):
                    self.last_book_ns[ev.ticker] = t_ns
            elif isinstance(ev, IndexTick):  # kxbtc recordings: the index itself is the spot
                self._spot(t_ns, ev.value)

    def _spot(self, t_ns: int, price: float) -> None:
        if math.isfinite(price) and price > 0:
            self.index.on_index(t_ns, price)
            self.basis.on_spot(t_ns, price)

    # -- scheduled --------------------------------------------------------------------------------

    def _scheduled(self, item: _Scheduled) -> None:
        market = self.markets[item.ticker]
        if item.kind == 0:
            assert market.settlement_value is not None
            self.basis.watch(item.ticker, market.close_ns, market.settlement_value)
        elif item.kind == 1:
            self.basis.release(item.ticker)
        else:
            reason = self._score(market, item.t_ns)
            if reason is not None:
                self.result.skipped[reason] += 1

    def _score(self, market: MarketInfo, now: int) -> str | None:
        """Record the moment, or return why it cannot be scored."""
        self.index.track(market.close_ns)
        if market.result not in ("yes", "no"):
            return "no result"
        book = self.books.get(market.ticker)
        if book is None:
            return "no book"
        if self.gaps.covers(market.ticker, now):
            return "known gap"
        if book.stale:
            return "book stale"
        if now - self.last_book_ns.get(market.ticker, 0) > self.options.book_quiet_s * NS_PER_S:
            return "book quiet"
        if not self.books.is_tradeable(market.ticker):
            return "book crossed"
        mid = book.mid()
        if mid is None:
            return "one-sided book"
        spot, dollar_vol = self.index.spot, self.index.dollar_vol()
        if spot is None or dollar_vol is None or self.index.is_stale(now):
            return "spot stale"
        basis = self.basis.basis(now)
        observed_sum, count = self.index.observed(market.close_ns)
        oracle = OracleView(
            spot + basis, dollar_vol, now, {market.close_ns: (observed_sum + basis * count, count)}
        )
        p = model_probability(market.instrument(), oracle, now, tail_df=self.options.tail_df)
        if p is None:
            return "no model price"
        self.result.moments.append(
            Moment(
                market.ticker,
                now,
                (market.close_ns - now) / NS_PER_S,
                mid,
                p,
                1 if market.result == "yes" else 0,
                spot,
                basis,
                dollar_vol,
                book.imbalance(3),
                book.best_yes_bid() or 0,
                book.yes_ask() or 0,
            )
        )
        return None
