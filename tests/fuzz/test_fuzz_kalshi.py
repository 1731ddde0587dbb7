"""Kalshi's REST responses and WebSocket frames, mutated from the recorded demo captures: decoding (and
the accessors that convert wire strings to integers) either succeeds or raises kxbtc's typed errors."""

from __future__ import annotations

import contextlib
import inspect
import json
from typing import Any

from fuzzing import FUZZ, KALSHI_FIXTURES, frames, jsonl
from hypothesis import given
from hypothesis import strategies as st

from kxbtc.errors import KxbtcError
from kxbtc.kalshi import rest_messages as rm
from kxbtc.kalshi.error_bodies import parse_error
from kxbtc.kalshi.stream import KalshiStream
from kxbtc.kalshi.ws_messages import decode_frame, peek_route
from kxbtc.units import UnitError

API_PREFIX = "/trade-api/v2"


def _rest_cases() -> list[tuple[type[Any], Any]]:
    cases = []
    for meta_path in sorted(KALSHI_FIXTURES.glob("*.meta.json")):
        meta = json.loads(meta_path.read_text())
        body = meta_path.with_name(meta_path.name.removesuffix(".meta.json") + ".json")
        if "status" not in meta or not 200 <= int(meta["status"]) < 300 or not body.exists():
            continue
        path = str(meta["path"]).split("?", 1)[0].removeprefix(API_PREFIX)
        kind = rm.response_type_for(str(meta["method"]), path)
        if kind is not None:
            cases.append((kind, json.loads(body.read_text())))
    return cases


REST_CASES = _rest_cases()
WS_SEEDS = [
    frame
    for name in ("ws__orderbook_trade_yes.jsonl", "ws__orderbook_trade_noleg.jsonl")
    for frame in jsonl(KALSHI_FIXTURES / name)
]
#: Typed: kxbtc's errors, and UnitError (a ValueError the callers of the accessors catch by name).
TYPED = (KxbtcError, UnitError)


def _touch(value: Any, depth: int = 0) -> None:
    """Read every property and zero-argument method of a decoded message, recursively."""
    if depth > 4 or value is None or isinstance(value, str | int | float | bool | bytes):
        return
    if isinstance(value, list | tuple):
        for item in value[:5]:
            _touch(item, depth + 1)
        return
    for name, _ in inspect.getmembers(type(value)):
        if name.startswith("_"):
            continue
        member = inspect.getattr_static(type(value), name)
        if isinstance(member, property):
            _touch(getattr(value, name), depth + 1)
        elif inspect.isfunction(member) and len(inspect.signature(member).parameters) == 1:
            _touch(getattr(value, name)(), depth + 1)
    for name in getattr(value, "__struct_fields__", ()):
        _touch(getattr(value, name), depth + 1)


def test_the_seeds_are_there() -> None:
    assert len(REST_CASES) >= 25 and len(WS_SEEDS) >= 10


@FUZZ
@given(case=st.sampled_from(REST_CASES), data=st.data())
def test_rest_responses_decode_or_raise_typed_errors(
    case: tuple[type[Any], Any], data: st.DataObject
) -> None:
    kind, seed = case
    raw = data.draw(frames([seed]))
    with contextlib.suppress(TYPED):
        _touch(rm.decode(raw, kind, "fuzz"))


@FUZZ
@given(
    status=st.sampled_from([400, 401, 403, 404, 409, 429, 500, 503]),
    raw=frames(
        [
            {"error": {"code": "invalid_parameters", "message": "invalid parameters", "details": "x"}},
            {"code": "bad_request", "message": "bad request", "details": "y"},
            {"msg": "Parameter validation failed"},
            {"error": "too many requests"},
        ]
    ),
)
def test_error_bodies_always_become_typed_errors(status: int, raw: bytes) -> None:
    error = parse_error(status, raw, method="GET", path="/fuzz")
    assert isinstance(error, KxbtcError) and error.status == status


@FUZZ
@given(raws=st.lists(frames(WS_SEEDS), min_size=1, max_size=8))
def test_ws_frames_through_the_stream_raise_only_typed_errors(raws: list[bytes]) -> None:
    stream = KalshiStream(use_yes_price=True, accept_unannounced_sids=True)
    for t, raw in enumerate(raws):
        peek_route(raw)
        try:
            msg = decode_frame(raw)
        except KxbtcError as exc:
            stream.bad_frame(t, str(exc), raw)
            continue
        with contextlib.suppress(TYPED):
            stream.on_message(msg, t)
