"""The simulator's REST and WebSocket inputs, fuzzed over loopback: every request gets a status below 500
with one of Kalshi's error shapes, and every WebSocket command an answer on a connection that stays up."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx2 as httpx
import pytest
from fuzzing import FUZZ, JSON
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from kxbtc.clock import SystemClock
from kxbtc.kalshi.auth import Signer
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.sim.harness import SimHarness, ThreadedSimHarness
from kxbtc.sim.rest_api import RestApi
from kxbtc.sim.server import API_PREFIX, ServerConfig

#: aiohttp's limit on a request line: longer ones get its plain 400 before any handler runs.
MAX_LINE = 8000
ROUTES = [(r.method, r.path) for r in RestApi(Exchange(SystemClock(), seed=1), ServerConfig()).routes()]
FIXTURE_OK = settings(
    FUZZ, suppress_health_check=[*FUZZ.suppress_health_check, HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[SimHarness, Signer, str]]:
    exchange = Exchange(SystemClock(), seed=3, config=SimConfig(counterparties=False))
    with ThreadedSimHarness(exchange=exchange) as harness:
        market = max((m for m in exchange.markets.values() if m.is_trading), key=lambda m: m.close_ns)
        yield harness, harness.signer(), market.ticker


def _kalshi_shape(body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    error = body.get("error")
    if isinstance(error, dict):
        return isinstance(error.get("code"), str) and isinstance(error.get("message"), str)
    if error == "too many requests":
        return True
    if "code" in body:
        return isinstance(body["code"], str) and isinstance(body.get("message"), str)
    return set(body) == {"msg"} and isinstance(body["msg"], str)


SEGMENT = st.one_of(
    st.sampled_from(["KXBTC15M", "x", "", "%00", "..", "9" * 5000, "{ticker}"]), st.text(max_size=8)
)
QUERY_VALUE = st.one_of(
    st.sampled_from(["-1", "0", "1001", "abc", "9" * 5000, "true", "", "1e3", "2**63"]), st.text(max_size=6)
)
QUERY_KEYS = st.sampled_from(
    [
        "limit",
        "cursor",
        "status",
        "ticker",
        "min_ts",
        "max_ts",
        "event_ticker",
        "series_ticker",
        "tickers",
        "subaccount",
        "exchange_index",
        "with_nested_markets",
        "depth",
        "period_interval",
    ]
)
TIMESTAMPS = st.one_of(
    st.none(), st.sampled_from(["", "abc", "-1", "7" * 5000, "1.5e3"]), st.integers().map(str)
)


@st.composite
def requests(draw: Any, ticker: str) -> tuple[str, str, bytes | None, str | None]:
    method, template = draw(st.sampled_from(ROUTES))
    path = re.sub(r"\{[^}]+\}", lambda _: quote(draw(st.one_of(st.just(ticker), SEGMENT)), safe=""), template)
    query = draw(st.dictionaries(QUERY_KEYS, QUERY_VALUE, max_size=3))
    if query:
        path += "?" + "&".join(f"{k}={quote(v)}" for k, v in query.items())
    method = draw(st.one_of(st.just(method), st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"])))
    body = None
    if method in ("POST", "PUT", "DELETE") and draw(st.booleans()):
        value = draw(
            st.one_of(
                JSON,
                st.fixed_dictionaries(
                    {"ticker": st.just(ticker), "orders": JSON},
                    optional={
                        "side": st.sampled_from(["bid", "ask", "x"]),
                        "price": JSON,
                        "count": JSON,
                        "time_in_force": st.sampled_from(["good_till_canceled", "immediate_or_cancel", "x"]),
                        "expiration_time": JSON,
                        "client_order_id": JSON,
                        "ids": JSON,
                        "subaccount": JSON,
                    },
                ),
            )
        )
        body = json.dumps(value).encode()
    return method, path, body, draw(TIMESTAMPS)


@FIXTURE_OK
@given(data=st.data())
def test_fuzzed_rest_requests_get_kalshi_error_shapes_never_5xx(
    sim: tuple[SimHarness, Signer, str], data: st.DataObject
) -> None:
    harness, signer, ticker = sim
    method, path, body, timestamp = data.draw(requests(ticker))
    headers = signer.headers(method, API_PREFIX + path.split("?", 1)[0])
    if timestamp is not None:
        headers["KALSHI-ACCESS-TIMESTAMP"] = timestamp
    if body is not None:
        headers["Content-Type"] = "application/json"
    with httpx.Client(timeout=10, follow_redirects=False) as client:
        response = client.request(method, harness.rest_url + path, content=body, headers=headers)
    assert response.status_code < 500, (response.status_code, response.text)
    if response.status_code == 301:
        assert response.headers["location"].startswith("/") and not response.headers["location"].startswith(
            "//"
        )
    elif len(path) > MAX_LINE:
        assert response.status_code == 400  # aiohttp's HTTP parser refuses the request line itself
    elif response.status_code >= 400:
        assert _kalshi_shape(response.json()), response.text
    # The server still serves a well-formed request afterwards.
    with httpx.Client(timeout=10) as client:
        ok = client.get(
            harness.rest_url + "/portfolio/balance",
            headers=signer.headers("GET", API_PREFIX + "/portfolio/balance"),
        )
    assert ok.status_code == 200


@pytest.fixture(scope="module")
def ws(sim: tuple[SimHarness, Signer, str]) -> Iterator[ClientConnection]:
    harness, signer, _ = sim
    with connect(
        harness.ws_url, additional_headers=signer.headers("GET", "/trade-api/ws/v2"), max_size=None
    ) as conn:
        yield conn


CHANNELS = st.sampled_from(
    ["orderbook_delta", "ticker", "trade", "fill", "cfbenchmarks_value", "user_orders", "x"]
)


@st.composite
def commands(draw: Any, ticker: str) -> str:
    params = draw(
        st.one_of(
            JSON,
            st.fixed_dictionaries(
                {},
                optional={
                    "channels": st.one_of(st.lists(CHANNELS, max_size=3), JSON),
                    "market_ticker": st.one_of(st.just(ticker), JSON),
                    "market_tickers": st.one_of(
                        st.lists(st.one_of(st.just(ticker), st.text(max_size=5)), max_size=3), JSON
                    ),
                    "sids": st.one_of(st.lists(st.integers(-1, 5), max_size=3), JSON),
                    "sid": st.one_of(st.integers(-1, 5), JSON),
                    "action": st.one_of(
                        st.sampled_from(
                            [
                                "add_markets",
                                "delete_markets",
                                "get_snapshot",
                                "subscribe_indices",
                                "indexlist",
                            ]
                        ),
                        JSON,
                    ),
                    "index_ids": st.one_of(st.lists(st.sampled_from(["BRTI", "all", "x"])), JSON),
                    "use_yes_price": JSON,
                },
            ),
        )
    )
    command = {
        "id": draw(st.one_of(st.integers(0, 10**6), st.sampled_from([10**30, -1, "1", None]))),
        "cmd": draw(
            st.one_of(
                st.sampled_from(["subscribe", "unsubscribe", "update_subscription", "list_subscriptions"]),
                JSON,
            )
        ),
        "params": params,
    }
    text = json.dumps(command)
    return draw(
        st.one_of(
            st.just(text),
            st.just(text[: draw(st.integers(0, len(text)))]),
            st.just('{"id":' + "1" * 5000 + "}"),
        )
    )


SENTINEL_ID = 999_999_937


@FIXTURE_OK
@given(data=st.data())
def test_fuzzed_ws_commands_are_answered_and_the_connection_stays_up(
    sim: tuple[SimHarness, Signer, str], ws: ClientConnection, data: st.DataObject
) -> None:
    ws.send(data.draw(commands(sim[2])))
    ws.send(json.dumps({"id": SENTINEL_ID, "cmd": "list_subscriptions"}))
    while True:
        frame = json.loads(ws.recv(timeout=10))
        assert isinstance(frame.get("type"), str), frame
        if frame["type"] == "error":
            assert isinstance(frame["msg"]["code"], int) and isinstance(frame["msg"]["msg"], str), frame
        if frame.get("id") == SENTINEL_ID and frame["type"] == "ok":
            break


@FUZZ
@given(
    st.one_of(
        st.text(max_size=80),
        st.lists(
            st.tuples(
                st.sampled_from(["drop", "delay_ms", "reorder", "http_429", "disconnect_every", "x"]),
                st.one_of(
                    st.floats(allow_nan=True, allow_infinity=True).map(repr),
                    st.text(max_size=8),
                ),
            ),
            max_size=4,
        ).map(lambda items: ",".join(f"{k}={v}" for k, v in items)),
    )
)
def test_a_faults_spec_parses_to_finite_in_range_values_or_is_refused(text: str) -> None:
    # ``kxbtc sim serve --faults``: nan, inf, negatives and probabilities over 1 are refused, typed.
    from kxbtc.sim.faults import FaultSpec, FaultSpecError

    try:
        spec = FaultSpec.parse(text)
    except FaultSpecError:
        return
    for field in dataclasses.fields(spec):
        value = getattr(spec, field.name)
        assert math.isfinite(value) and value >= 0, field.name
    for name in ("drop", "reorder", "http_429", "http_5xx", "lose_response"):
        assert 0.0 <= getattr(spec, name) <= 1.0
