"""kxbtc's own recordings (``kxbtc record``, ``kxbtc.backtest.recording``) as a ``MarketRecording``.

Market definitions and REST results are lines inside the file; ``markets()`` reads them in one pass
(the last definition of a market wins; a result line or a lifecycle ``determined`` fills its result).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from kxbtc.backtest.recording import Recording, RecordingError, spec_from_json
from kxbtc.recordings.source import ConnectionChange, MarketInfo, RecordedEvent, WsFrame

CONN = "kxbtc"


class KxbtcRecording:
    accept_unannounced_sids = False
    has_spot = False  # its index is Kalshi's own cfbenchmarks_value prints

    def __init__(self, path: Path) -> None:
        self.recording = Recording(path)
        self._markets: dict[str, MarketInfo] | None = None

    @property
    def name(self) -> str:
        return self.recording.path.name

    @property
    def use_yes_price(self) -> bool:
        return self.recording.header.use_yes_price

    @property
    def truncated(self) -> bool:
        return self.recording.truncated

    def markets(self) -> dict[str, MarketInfo]:
        if self._markets is None:
            specs = {}
            results: dict[str, str] = {}
            for line in self.recording.lines():
                if line.kind == "market":
                    try:
                        spec = spec_from_json(line.body)
                    except (KeyError, TypeError, ValueError, AttributeError) as exc:
                        # A hand-edited or foreign line: name it rather than fail with a traceback.
                        reason = f"market line unreadable: {type(exc).__name__}: {exc}"
                        raise RecordingError(self.recording.path, line.number, reason) from None
                    specs[spec.ticker] = spec
                elif line.kind == "result" and line.body.get("result") in ("yes", "no"):
                    results[str(line.body.get("ticker", ""))] = str(line.body["result"])
            self._markets = {
                t: MarketInfo(
                    ticker=t,
                    series=s.series_ticker,
                    open_ns=s.open_time_ns,
                    close_ns=s.close_time_ns,
                    strike_type=s.strike_type,
                    floor_strike=float(s.floor_strike) if s.floor_strike is not None else None,
                    cap_strike=float(s.cap_strike) if s.cap_strike is not None else None,
                    result=results.get(t),
                    fees=s.fees,
                    grid=s.grid,
                    event_ticker=s.event_ticker,
                    exchange_index=s.exchange_index,
                )
                for t, s in specs.items()
            }
        return self._markets

    def events(self) -> Iterator[RecordedEvent]:
        for line in self.recording.lines():
            if line.kind == "ws" and line.frame is not None:
                yield WsFrame(line.t, CONN, line.frame)
            elif line.kind == "connection":
                yield ConnectionChange(line.t, CONN, bool(line.body.get("up")))
