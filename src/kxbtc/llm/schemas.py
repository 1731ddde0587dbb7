"""What the ensemble sends to a model and what a model must send back.

A model's answer is accepted only as strict JSON matching ``Forecast``: no extra keys, numbers in
range, the right types. The one tolerance is a JSON object wrapped in a Markdown ```json fence, which
some models add even in JSON mode. Anything else raises ``LlmOutputError``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from kxbtc.errors import LlmOutputError

RATIONALE_MAX_CHARS = 600
MAX_DRIVERS = 5
DRIVER_MAX_CHARS = 120

StrikeType = Literal["greater", "greater_or_equal", "less", "less_or_equal", "between"]

Driver = Annotated[str, StringConstraints(min_length=1, max_length=DRIVER_MAX_CHARS)]

_FENCE = re.compile(r"\A```(?:json|JSON)?[ \t]*\n?(?P<body>.*?)\n?```\Z", re.DOTALL)


class Forecast(BaseModel):
    """One model's answer."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    probability: float = Field(ge=0, le=1, allow_inf_nan=False, description="P(market settles YES)")
    confidence: float = Field(ge=0, le=1, allow_inf_nan=False, description="how much to trust it")
    rationale: str = Field(min_length=1, max_length=RATIONALE_MAX_CHARS)
    key_drivers: tuple[Driver, ...] = Field(default=(), max_length=MAX_DRIVERS)


class ForecastRequest(BaseModel):
    """The market and the quantitative model's view of it, as the models are shown it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ticker: str = Field(min_length=1)
    strike: float = Field(gt=0, allow_inf_nan=False, description="dollars; the floor of a 'between'")
    strike_type: StrikeType = "greater"
    cap_strike: float | None = Field(None, gt=0, allow_inf_nan=False, description="the cap of a 'between'")
    close_time: datetime
    seconds_to_close: float = Field(ge=0, allow_inf_nan=False)
    spot: float = Field(gt=0, allow_inf_nan=False, description="BRTI estimate, dollars")
    model_probability: float | None = Field(None, ge=0, le=1, allow_inf_nan=False)
    realized_vol: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="recent realised volatility, annualised fraction"
    )
    book_mid: float | None = Field(None, ge=0, le=1, allow_inf_nan=False, description="YES mid, dollars")


#: The schema sent to providers that enforce structured output. Types and keys only: the ranges
#: are checked here, since not every provider's schema dialect supports them.
FORECAST_JSON_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {
        "probability": {"type": "number", "description": "probability the market settles YES, 0..1"},
        "confidence": {"type": "number", "description": "confidence in that probability, 0..1"},
        "rationale": {"type": "string", "description": f"at most {RATIONALE_MAX_CHARS} characters"},
        "key_drivers": {
            "type": "array",
            "items": {"type": "string"},
            "description": f"at most {MAX_DRIVERS} short phrases",
        },
    },
    "required": ["probability", "confidence", "rationale", "key_drivers"],
    "additionalProperties": False,
}


def _unfence(text: str) -> str:
    stripped = text.strip()
    match = _FENCE.match(stripped)
    return match.group("body").strip() if match else stripped


def _describe(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in err["loc"]) or "answer"
        problems.append(f"{where}: {err['msg']}")
    return "; ".join(problems)


def parse_forecast(text: str) -> Forecast:
    """The forecast in a model's answer, or ``LlmOutputError`` saying what is wrong with it."""
    body = _unfence(text)
    if not body.startswith("{"):
        raise LlmOutputError("answer is not a JSON object")
    try:
        json.loads(body)  # a clear "not JSON" before pydantic's field-level messages
    except json.JSONDecodeError as exc:
        raise LlmOutputError(f"answer is not valid JSON ({exc.msg} at char {exc.pos})") from None
    try:
        return Forecast.model_validate_json(body)
    except ValidationError as exc:
        raise LlmOutputError(f"answer does not match the forecast schema: {_describe(exc)}") from None
