"""A logistic blend of two forecasts: logit p = a + b·logit(model) + c·logit(market).

Fitted by Newton's method on the log loss (a concave problem: it converges in a few steps and gives the
same weights for the same data). A small ridge penalty keeps the fit finite when a tiny sample
separates the outcomes perfectly (or has one outcome only); it is far too small to matter on real
samples. With nothing to fit on, the blend falls back to the plain average of the two log-odds
(a = 0, b = c = 1/2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from kxbtc.pricing.calibration_scores import PROBABILITY_CLIP

FloatArray = NDArray[np.float64]

RIDGE = 1e-3
MAX_STEPS = 100


def logit(p: FloatArray) -> FloatArray:
    q = np.clip(p, PROBABILITY_CLIP, 1 - PROBABILITY_CLIP)
    return np.asarray(np.log(q / (1 - q)), dtype=np.float64)


def _sigmoid(x: FloatArray) -> FloatArray:
    return np.asarray(0.5 * (1 + np.tanh(x / 2)), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class BlendWeights:
    intercept: float
    model: float
    market: float
    fitted: bool  # False: the fallback (no data to fit on)
    n: int

    def predict(self, model: FloatArray, market: FloatArray) -> FloatArray:
        return _sigmoid(self.intercept + self.model * logit(model) + self.market * logit(market))

    def to_json(self) -> dict[str, object]:
        return {
            "intercept": self.intercept,
            "model": self.model,
            "market": self.market,
            "fitted": self.fitted,
            "n": self.n,
        }


FALLBACK = BlendWeights(0.0, 0.5, 0.5, fitted=False, n=0)


def fit_blend(model: FloatArray, market: FloatArray, outcome: FloatArray) -> BlendWeights:
    n = int(outcome.size)
    if n == 0:
        return FALLBACK
    return BlendWeights(*_fit(model, market, outcome), fitted=True, n=n)


def _fit(model: FloatArray, market: FloatArray, y: FloatArray) -> tuple[float, float, float]:
    x = np.column_stack([np.ones_like(y), logit(model), logit(market)])
    penalty = RIDGE * y.size * np.eye(3)
    w = np.array([0.0, 0.5, 0.5])
    for _ in range(MAX_STEPS):
        p = _sigmoid(x @ w)
        grad = x.T @ (p - y) + penalty @ w
        hess = (x * (p * (1 - p))[:, None]).T @ x + penalty + 1e-12 * np.eye(3)
        step = np.linalg.solve(hess, grad)
        w = w - step
        if float(np.max(np.abs(step))) < 1e-10:
            break
    return float(w[0]), float(w[1]), float(w[2])
