"""What the LLM ensemble is asked about on each slow round: every open market with the model's inputs
and the market's mid (cheap; never waits on anything)."""

from __future__ import annotations

from kxbtc.core.trading_core import TradingCore
from kxbtc.llm.schemas import ForecastRequest
from kxbtc.llm.service import forecast_request
from kxbtc.units import PRICE_SCALE


def llm_requests(core: TradingCore) -> list[ForecastRequest]:
    now = core.clock.time_ns()
    requests: list[ForecastRequest] = []
    for ticker, instrument in core.instruments.items():
        if not instrument.is_open_at(now):
            continue
        mark = core.account.mark(ticker)
        oracle = core.index.view(now, [instrument.close_ns])
        mid = None if mark is None else mark / PRICE_SCALE
        request = forecast_request(instrument, oracle, now, mid)
        if request is not None:
            requests.append(request)
    return requests
