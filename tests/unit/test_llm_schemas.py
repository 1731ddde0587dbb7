"""The forecast a model must return: strict JSON, nothing more, nothing out of range."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kxbtc.errors import LlmOutputError
from kxbtc.llm.schemas import (
    DRIVER_MAX_CHARS,
    FORECAST_JSON_SCHEMA,
    RATIONALE_MAX_CHARS,
    Forecast,
    parse_forecast,
)

unit = st.floats(min_value=0, max_value=1)
rationale = st.text(min_size=1, max_size=RATIONALE_MAX_CHARS)
drivers = st.lists(st.text(min_size=1, max_size=DRIVER_MAX_CHARS), max_size=5)


@given(unit, unit, rationale, drivers)
def test_any_valid_forecast_round_trips(p: float, c: float, why: str, keys: list[str]) -> None:
    text = json.dumps({"probability": p, "confidence": c, "rationale": why, "key_drivers": keys})
    assert parse_forecast(text) == Forecast(
        probability=p, confidence=c, rationale=why, key_drivers=tuple(keys)
    )


@given(unit, unit)
def test_a_json_fence_is_tolerated(p: float, c: float) -> None:
    body = json.dumps({"probability": p, "confidence": c, "rationale": "r"})
    for fenced in (f"```json\n{body}\n```", f"```\n{body}\n```", f"  ```json {body}```\n"):
        assert parse_forecast(fenced).probability == p


@given(st.floats(allow_nan=False).filter(lambda x: not 0 <= x <= 1))
def test_a_probability_out_of_range_is_rejected(p: float) -> None:
    text = json.dumps({"probability": p, "confidence": 0.5, "rationale": "r"})
    with pytest.raises(LlmOutputError, match="probability"):
        parse_forecast(text)


@given(st.text(min_size=1).filter(lambda k: k not in Forecast.model_fields))
def test_any_extra_key_is_rejected(key: str) -> None:
    text = json.dumps({"probability": 0.5, "confidence": 0.5, "rationale": "r", key: 1})
    with pytest.raises(LlmOutputError, match="Extra inputs"):
        parse_forecast(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0.7",
        "Probability: 0.7",
        "[0.7, 0.5]",
        '{"probability": 0.7, "confidence": 0.5, "rationale": "r"',  # truncated
        'Sure! {"probability": 0.7, "confidence": 0.5, "rationale": "r"}',  # prose around it
        '{"probability": "0.7", "confidence": 0.5, "rationale": "r"}',  # number as a string
        '{"probability": true, "confidence": 0.5, "rationale": "r"}',
        '{"probability": NaN, "confidence": 0.5, "rationale": "r"}',
        '{"probability": 0.7, "confidence": 0.5}',  # missing rationale
        '{"probability": 0.7, "confidence": 0.5, "rationale": ""}',
        '{"probability": 0.7, "confidence": 1.5, "rationale": "r"}',
        json.dumps({"probability": 0.7, "confidence": 0.5, "rationale": "r" * (RATIONALE_MAX_CHARS + 1)}),
        json.dumps({"probability": 0.7, "confidence": 0.5, "rationale": "r", "key_drivers": ["a"] * 6}),
        json.dumps({"probability": 0.7, "confidence": 0.5, "rationale": "r", "key_drivers": "a"}),
        "```python\nprint(1)\n```",
    ],
)
def test_anything_else_is_rejected(text: str) -> None:
    with pytest.raises(LlmOutputError):
        parse_forecast(text)


def test_an_integer_probability_is_a_number() -> None:
    assert parse_forecast('{"probability": 1, "confidence": 0, "rationale": "certain"}').probability == 1.0


def test_the_wire_schema_names_exactly_the_forecast_fields() -> None:
    assert set(FORECAST_JSON_SCHEMA["required"]) == set(Forecast.model_fields)  # type: ignore[arg-type]
    assert FORECAST_JSON_SCHEMA["additionalProperties"] is False
    assert not math.isnan(parse_forecast('{"probability": 0, "confidence": 0, "rationale": "x"}').probability)
