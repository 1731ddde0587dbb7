"""The markets of one BTC event before listing: tickers, strike types, strikes, titles and rules text.

- KXBTC15M: one market per window; its strike is filled in at open (the 60-second index average ending
  at the open), so only the ticker and the rules are known ahead.
- KXBTCD: hourly ladder of ``greater`` strikes at ``$250 * k - 0.01`` around spot (``T114999.99``).
- KXBTC: hourly $250 range buckets (``between``, inclusive ``[floor, cap]``) named by their midpoint
  (``B68125``), plus a ``less`` tail below and a ``greater`` tail above.
"""

from __future__ import annotations

from dataclasses import dataclass

from kxbtc.clock import NS_PER_S
from kxbtc.sim.market_text import dollars_display, dollars_text, et_phrase, market_ticker_15m
from kxbtc.sim.markets import StrikeType

RULES_SECONDARY = (
    "Not all cryptocurrency price data is the same. While checking a source like Google or Coinbase may help "
    "guide your decision, the price used to determine this market is based on CF Benchmarks' corresponding "
    "Real Time Index (RTI). At the last minute before expiration, 60 RTI prices are collected. The official "
    "and final value is the average of these prices, rounded to the nearest 2 decimal places."
)


QUARTER_NS = 900 * NS_PER_S
HOUR_NS = 3600 * NS_PER_S
STRIKE_STEP_CENTS = 25_000  # $250


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """What differs between the markets of one event; the exchange adds ids, times and sequence."""

    ticker: str
    strike_type: StrikeType
    floor_strike: int | None
    cap_strike: int | None
    yes_sub_title: str
    no_sub_title: str
    title: str
    rules_primary: str


def spec_15m(close_ns: int) -> MarketSpec:
    """The 15-minute market; its strike is filled in at open (``strike_15m_rules`` then applies)."""
    open_ns = close_ns - QUARTER_NS
    return MarketSpec(
        ticker=market_ticker_15m(close_ns),
        strike_type="greater_or_equal",
        floor_strike=None,
        cap_strike=None,
        yes_sub_title="Target Price: TBD",
        no_sub_title="Target Price: TBD",
        title="BTC price up in next 15 mins?",
        rules_primary=rules_15m(open_ns, close_ns),
    )


def rules_15m(open_ns: int, close_ns: int) -> str:
    return (
        "If the simple average of the sixty seconds of CF Benchmarks' BRTI before "
        f"{et_phrase(close_ns)} is at least the simple average of the sixty seconds of CF Benchmarks' "
        f"BRTI before {et_phrase(open_ns)}, then the market resolves to Yes."
    )


def ladder_strikes(spot_cents: int, each_side: int) -> list[int]:
    """``$250 k - $0.01`` strikes around spot (the KXBTCD ladder): ``T114999.99``-style."""
    center = (spot_cents + STRIKE_STEP_CENTS // 2) // STRIKE_STEP_CENTS * STRIKE_STEP_CENTS
    return [center + i * STRIKE_STEP_CENTS - 1 for i in range(-each_side, each_side + 1)]


def specs_kxbtcd(event_ticker: str, close_ns: int, spot_cents: int, each_side: int) -> list[MarketSpec]:
    when = et_phrase(close_ns)
    specs = []
    for strike in ladder_strikes(spot_cents, each_side):
        text = dollars_text(strike)
        specs.append(
            MarketSpec(
                ticker=f"{event_ticker}-T{text}",
                strike_type="greater",
                floor_strike=strike,
                cap_strike=None,
                yes_sub_title=f"{dollars_display(strike + 1)} or above",
                no_sub_title=f"{dollars_display(strike + 1)} or above",
                title=f"Bitcoin price on {when}?",
                rules_primary=(
                    "If the simple average of the sixty seconds of CF Benchmarks' Bitcoin Real-Time Index "
                    f"(BRTI) before {when} is above {text}, then the market resolves to Yes."
                ),
            )
        )
    return specs


def specs_kxbtc(event_ticker: str, close_ns: int, spot_cents: int, each_side: int) -> list[MarketSpec]:
    """$250 buckets ``[L, L + 249.99]`` named by midpoint, with a tail below and above."""
    when = et_phrase(close_ns)
    base = spot_cents // STRIKE_STEP_CENTS * STRIKE_STEP_CENTS
    lows = [base + i * STRIKE_STEP_CENTS for i in range(-each_side, each_side + 1)]
    lead = (
        "If the simple average of the sixty seconds of CF Benchmarks' Bitcoin Real-Time Index (BRTI) "
        f"before {when} is "
    )
    title = f"Bitcoin price range on {when}?"
    bottom, top = lows[0] - 1, lows[-1] + STRIKE_STEP_CENTS - 1
    specs = [
        MarketSpec(
            ticker=f"{event_ticker}-T{dollars_text(bottom)}",
            strike_type="less",
            floor_strike=None,
            cap_strike=bottom + 1,
            yes_sub_title=f"{dollars_display(bottom)} or below",
            no_sub_title=f"{dollars_display(bottom)} or below",
            title=title,
            rules_primary=f"{lead}below {dollars_text(bottom + 1)}, then the market resolves to Yes.",
        )
    ]
    for low in lows:
        cap = low + STRIKE_STEP_CENTS - 1
        specs.append(
            MarketSpec(
                ticker=f"{event_ticker}-B{dollars_text(low + STRIKE_STEP_CENTS // 2)}",
                strike_type="between",
                floor_strike=low,
                cap_strike=cap,
                yes_sub_title=f"{dollars_display(low)} to {dollars_display(cap)}",
                no_sub_title=f"{dollars_display(low)} to {dollars_display(cap)}",
                title=title,
                rules_primary=(
                    f"{lead}between {dollars_text(low)} and {dollars_text(cap)}, "
                    "then the market resolves to Yes."
                ),
            )
        )
    specs.append(
        MarketSpec(
            ticker=f"{event_ticker}-T{dollars_text(top)}",
            strike_type="greater",
            floor_strike=top,
            cap_strike=None,
            yes_sub_title=f"{dollars_display(top + 1)} or above",
            no_sub_title=f"{dollars_display(top + 1)} or above",
            title=title,
            rules_primary=f"{lead}above {dollars_text(top)}, then the market resolves to Yes.",
        )
    )
    return specs
