"""``kxbtc score``: the fair-value forecast against the market on recorded data.

Method (every step uses only what was known at the moment it scores):

1. Books. Each market's book is rebuilt from the recorded snapshots and deltas (``KalshiStream`` per
   WebSocket session, ``BookSet``). A book is read only when tradeable (synced since its last snapshot,
   not inside one of Kalshi's momentary crosses within one exchange millisecond), two-sided, outside the
   recording's known gaps and not quiet (a frame of its market within the last ``book_quiet_s``).
2. Moments. Every whole ``step_s`` (30 s) of each market's life, where the book is readable and the last
   spot trade is at most ``spot_fresh_s`` (5 s) old. Outcome: the market's recorded result.
3. Forecasts. Market = the YES mid. Model = the production fair value (``model_probability``) from the
   last spot trade plus a basis, the EWMA volatility of the spot so far (half-life 300 s, shrunk toward a
   50 % prior until two minutes of prints exist), Student-t(6) tails, and the part of the settlement
   minute already seen. Basis = mean over the last 4 markets whose settlement was known by then (60 s after
   their close) of settlement value minus the spot's mean over their final minute; 0 before any.
   Blend = logistic regression of the outcome on the model's and the market's log-odds, fitted ONLY on
   moments before the split time (default 2026-05-13T15:00:00Z) and applied unchanged after it.
4. Scores. Brier score and log loss of each forecast on each part (the part after the split is the
   headline; on the part before it the blend is in-sample), overall and by minutes to close (0-1, 1-3,
   3-6, 6-10, 10-15), with 95 % percentile intervals from 1,000 seeded resamples of whole markets, for
   each score and for the differences model-minus-market and blend-minus-market (negative = better than
   the market). Reliability per forecast bin with Wilson intervals.

The same input and options give the same JSON, byte for byte.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from kxbtc.clock import parse_utc_ns
from kxbtc.recordings import open as recordings_open
from kxbtc.research.blend import BlendWeights, fit_blend
from kxbtc.research.bootstrap import DEFAULT_RESAMPLES, MarketBootstrap
from kxbtc.research.metrics import (
    DEFAULT_TTC_EDGES_MIN,
    ScoredMoments,
    by_time_to_close,
    reliability,
    scores,
)
from kxbtc.research.moments import Moment, MomentReplay, ReplayOptions

DEFAULT_SPLIT = "2026-05-13T15:00:00Z"


@dataclass(frozen=True, slots=True)
class ScoreOptions:
    replay: ReplayOptions = field(default_factory=ReplayOptions)
    split: str = DEFAULT_SPLIT  # ISO-8601 UTC: fit the blend before it, report after it
    resamples: int = DEFAULT_RESAMPLES
    seed: int = 0
    ttc_edges_min: tuple[float, ...] = DEFAULT_TTC_EDGES_MIN

    @property
    def split_ns(self) -> int:
        return parse_utc_ns(self.split)


@dataclass(slots=True)
class ScoreRun:
    """Everything one run produced: the moments with all three forecasts, and the JSON report."""

    moments: list[Moment]
    data: ScoredMoments
    fit_mask: NDArray[np.bool_]
    weights: BlendWeights
    report: dict[str, object]


def collect_moments(paths: Sequence[Path], options: ReplayOptions) -> tuple[list[Moment], dict[str, object]]:
    """Every scored moment of the recordings in time order, and what the replays counted."""
    moments: list[Moment] = []
    skipped: Counter[str] = Counter()
    events = basis_samples = 0
    names = []
    for recording in recordings_open.open_recordings(list(paths)):
        result = MomentReplay(recording, options).run()
        names.append(recording.name)
        moments += result.moments
        skipped.update(result.skipped)
        events += result.events
        basis_samples += result.basis_samples
    moments.sort(key=lambda m: (m.t_ns, m.ticker))
    info: dict[str, object] = {
        "recordings": names,
        "events": events,
        "skipped_moments": dict(sorted(skipped.items())),
        "basis_samples": basis_samples,
    }
    return moments, info


def _arrays(moments: list[Moment], weights: BlendWeights | None = None) -> ScoredMoments:
    tickers = sorted({m.ticker for m in moments})
    index = {t: i for i, t in enumerate(tickers)}
    model = np.array([m.model for m in moments], dtype=np.float64)
    market = np.array([m.market for m in moments], dtype=np.float64)
    forecasts = {"model": model, "market": market}
    if weights is not None:
        forecasts["blend"] = weights.predict(model, market)
    return ScoredMoments(
        forecasts,
        np.array([m.outcome for m in moments], dtype=np.float64),
        np.array([m.seconds_to_close for m in moments], dtype=np.float64),
        np.array([index[m.ticker] for m in moments], dtype=np.int64),
    )


def part_report(data: ScoredMoments, options: ScoreOptions, mask: NDArray[np.bool_]) -> dict[str, object]:
    part = data.subset(mask)
    # Resample the markets of this part only: numbered 0..k-1 within it.
    markets, group = np.unique(part.group, return_inverse=True)
    part = ScoredMoments(part.forecasts, part.outcome, part.seconds_to_close, group.astype(np.int64))
    boot = MarketBootstrap(int(markets.size), options.resamples, options.seed)
    return {
        **scores(part, boot),
        "by_time_to_close": by_time_to_close(part, boot, options.ttc_edges_min),
        "reliability": reliability(part),
    }


def score_paths(paths: Sequence[Path], options: ScoreOptions) -> ScoreRun:
    moments, info = collect_moments(paths, options.replay)
    split_ns = options.split_ns
    t = np.array([m.t_ns for m in moments], dtype=np.int64)
    fit_mask = t < split_ns
    plain = _arrays(moments)
    weights = fit_blend(
        plain.forecasts["model"][fit_mask], plain.forecasts["market"][fit_mask], plain.outcome[fit_mask]
    )
    data = _arrays(moments, weights)
    fit_part = part_report(data, options, fit_mask)
    report_part = part_report(data, options, ~fit_mask)
    headline = {k: report_part[k] for k in ("n", "markets", "brier", "log_loss", "intervals")}
    report: dict[str, object] = {
        **headline,
        "headline": "report",
        "split": options.split,
        "blend_weights": weights.to_json(),
        "parts": {"fit": fit_part, "report": report_part},
        **info,
        "options": {
            **asdict(options.replay),
            "resamples": options.resamples,
            "seed": options.seed,
            "minutes_to_close_edges": list(options.ttc_edges_min),
        },
    }
    return ScoreRun(moments, data, fit_mask, weights, report)
