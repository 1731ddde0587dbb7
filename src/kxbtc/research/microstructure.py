"""Two questions about the recorded books, asked of one-second moments (``research.moments``):

- Index lead: does the Kalshi mid follow the index with a delay? For every market, the one-second change
  of the model's probability (which moves only with spot, the basis and time) against the change of the
  mid k seconds later, k from -5 to +15: a correlation that peaks at k > 0 means the index leads and the
  mid catches up that many seconds later; the size of the lagged correlations says how much of the move
  is left for a taker after a latency of k seconds.
- Order-book imbalance: does the top-three-level imbalance (the brief's 0.7 threshold) predict the next
  move of the mid, or the outcome beyond what the mid already says? For every moment, imbalance against
  the mid's change over the next ``horizon_s`` seconds, and the outcome's hit rate when imbalance is above
  0.7 or below 0.3 against the mid's own forecast at those moments.

Both use only the part of the data given (the earlier part: see docs/RESEARCH.md), with intervals from
resampling whole markets.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from kxbtc.clock import NS_PER_S
from kxbtc.research.moments import Moment

LAGS = tuple(range(-5, 16))
RESAMPLES = 500
SEED = 7


@dataclass(frozen=True, slots=True)
class Series:
    """One market's consecutive one-second moments (a gap breaks the series)."""

    ticker: str
    moments: tuple[Moment, ...]


def series_of(moments: Sequence[Moment]) -> list[Series]:
    by_market: dict[str, list[Moment]] = defaultdict(list)
    for m in moments:
        by_market[m.ticker].append(m)
    out = []
    for ticker, items in sorted(by_market.items()):
        items.sort(key=lambda m: m.t_ns)
        run = [items[0]]
        for m in items[1:]:
            if m.t_ns - run[-1].t_ns == NS_PER_S:
                run.append(m)
            else:
                if len(run) > 1:
                    out.append(Series(ticker, tuple(run)))
                run = [m]
        if len(run) > 1:
            out.append(Series(ticker, tuple(run)))
    return out


def _corr(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    n = len(xs)
    if n < 3:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / math.sqrt(sxx * syy)


def _pairs_at_lag(series: Sequence[Series], lag: int) -> dict[str, tuple[list[float], list[float]]]:
    """Per market: (model change at t, mid change at t + lag) over one second each."""
    out: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for s in series:
        ms = s.moments
        d_model = [ms[i].model - ms[i - 1].model for i in range(1, len(ms))]
        d_mid = [ms[i].market - ms[i - 1].market for i in range(1, len(ms))]
        xs, ys = out[s.ticker]
        for i, dx in enumerate(d_model):
            j = i + lag
            if 0 <= j < len(d_mid):
                xs.append(dx)
                ys.append(d_mid[j])
    return out


def _pooled_corr(
    per_market: dict[str, tuple[list[float], list[float]]], tickers: Sequence[str]
) -> float | None:
    xs: list[float] = []
    ys: list[float] = []
    for t in tickers:
        x, y = per_market.get(t, ([], []))
        xs += x
        ys += y
    return _corr(xs, ys)


def _interval(values: list[float]) -> list[float] | None:
    if not values:
        return None
    values.sort()
    return [values[int(0.025 * len(values))], values[max(0, int(0.975 * len(values)) - 1)]]


def lead_lag(moments: Sequence[Moment], *, resamples: int = RESAMPLES) -> dict[str, object]:
    series = series_of(moments)
    tickers = sorted({s.ticker for s in series})
    rng = random.Random(SEED)
    draws = [[rng.choice(tickers) for _ in tickers] for _ in range(resamples)] if tickers else []
    rows = []
    for lag in LAGS:
        per_market = _pairs_at_lag(series, lag)
        boot = [c for d in draws if (c := _pooled_corr(per_market, d)) is not None]
        rows.append(
            {
                "lag_s": lag,
                "corr": _pooled_corr(per_market, tickers),
                "interval_95": _interval(boot),
                "pairs": sum(len(x) for x, _ in per_market.values()),
            }
        )
    best = max((r for r in rows if r["corr"] is not None), key=lambda r: float(r["corr"]), default=None)  # type: ignore[arg-type]
    return {"markets": len(tickers), "series": len(series), "by_lag": rows, "peak": best}


def imbalance_study(
    moments: Sequence[Moment], *, horizon_s: int = 30, threshold: float = 0.7, resamples: int = RESAMPLES
) -> dict[str, object]:
    """Imbalance against the mid's next move, and against the outcome beyond the mid."""
    by_key = {(m.ticker, m.t_ns): m for m in moments}
    per_market: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    tails: dict[str, list[tuple[int, float, int]]] = defaultdict(list)  # sign, mid, outcome
    for m in moments:
        if m.imbalance is None:
            continue
        later = by_key.get((m.ticker, m.t_ns + horizon_s * NS_PER_S))
        if later is not None:
            xs, ys = per_market[m.ticker]
            xs.append(m.imbalance - 0.5)
            ys.append(later.market - m.market)
        if m.imbalance >= threshold or m.imbalance <= 1 - threshold:
            tails[m.ticker].append((1 if m.imbalance >= threshold else -1, m.market, m.outcome))
    tickers = sorted(per_market)
    rng = random.Random(SEED)
    boot = []
    for _ in range(resamples if tickers else 0):
        c = _pooled_corr(per_market, [rng.choice(tickers) for _ in tickers])
        if c is not None:
            boot.append(c)

    def excess(names: Sequence[str]) -> float | None:
        """Mean of (outcome - mid) in the direction the imbalance points: > 0 means it adds to the mid."""
        vals = [sign * (outcome - mid) for t in names for sign, mid, outcome in tails.get(t, [])]
        return sum(vals) / len(vals) if vals else None

    tail_tickers = sorted(tails)
    excess_boot = [
        e for _ in range(resamples if tail_tickers else 0)
        if (e := excess([rng.choice(tail_tickers) for _ in tail_tickers])) is not None
    ]  # fmt: skip
    return {
        "horizon_s": horizon_s,
        "threshold": threshold,
        "markets": len(tickers),
        "pairs": sum(len(x) for x, _ in per_market.values()),
        "corr_with_next_mid_move": _pooled_corr(per_market, tickers),
        "corr_interval_95": _interval(boot),
        "tail_moments": sum(len(v) for v in tails.values()),
        "outcome_minus_mid_in_imbalance_direction": excess(tail_tickers),
        "outcome_excess_interval_95": _interval(excess_boot),
    }
