"""The simulator answers every recorded demo request with the recorded status and JSON shape.

The recordings (``fixtures_demo_2026-06-11``) are replayed in the order they were made, against a
simulator set up like the demo session: one market (the recorded tennis ticker is mapped to a simulated
BTC market) with a second user resting YES 0.47 x3 and YES 0.52 x3 (NO 0.48), and the recorded order ids
mapped to the ids the simulator returns. Shapes are compared recursively (same keys, same JSON types;
lists element by element against the recorded elements); error codes and messages must match exactly.

Allowed differences are the fields Kalshi changed after the recording (PROVENANCE.md, kalshi-api.md §0)
and fields that only a non-BTC market carries; both lists are below, each with its reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from kxbtc.clock import SystemClock, now_ms
from kxbtc.kalshi.auth import Signer
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.sim.harness import KeyPair, SimHarness, ThreadedSimHarness, generate_key_pair
from kxbtc.units import Count, Price

RECORDED_MARKETS = ("KXWTACHALLENGERMATCH-26JUN11JIMLEP-LEP", "KXPGATOUR-USO26-JDAY")

#: Present in the June recording, removed by Kalshi since (kalshi-api.md §0, §3.4, §4.3).
REMOVED_SINCE = {"service", "fractional_trading_enabled", "response_price_units", "liquidity_dollars"}
#: Carried by the recorded tennis market only (custom strikes, early close on a match result).
NON_BTC_MARKET = {"custom_strike", "early_close_condition", "occurrence_datetime"}
#: Added since the recording: ``exchange_index`` on orders, fills, positions and markets (sharding,
#: 2026-08); BTC markets carry numeric strikes.
ADDED_SINCE = {"exchange_index"}
BTC_MARKET = {"floor_strike", "cap_strike"}

MAY_BE_ABSENT = REMOVED_SINCE | NON_BTC_MARKET
MAY_BE_ADDED = ADDED_SINCE | BTC_MARKET

SKEW_MS = {"skew_minus5s": -5_000, "skew_plus5s": 5_000, "skew_minus30s": -30_000}
SKEW_MS |= {"skew_minus5min": -300_000, "skew_plus5min": 300_000}


def json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def shape_diff(recorded: object, actual: object, where: str = "$") -> list[str]:
    """Differences in keys and JSON types between a recorded body and the simulator's."""
    if json_type(recorded) != json_type(actual):
        return [f"{where}: {json_type(actual)} where the recording has {json_type(recorded)}"]
    if isinstance(recorded, dict):
        assert isinstance(actual, dict)
        diffs = [
            f"{where}.{k}: missing" for k in sorted(recorded.keys() - actual.keys()) if k not in MAY_BE_ABSENT
        ]
        diffs += [
            f"{where}.{k}: not in the recording"
            for k in sorted(actual.keys() - recorded.keys())
            if k not in MAY_BE_ADDED
        ]
        for key in sorted(recorded.keys() & actual.keys()):
            diffs += shape_diff(recorded[key], actual[key], f"{where}.{key}")
        return diffs
    if isinstance(recorded, list):
        assert isinstance(actual, list)
        if not recorded:
            return []
        if not actual:
            return [f"{where}: empty, the recording has elements"]
        diffs = []
        for i, item in enumerate(actual):
            candidates = [shape_diff(r, item, f"{where}[{i}]") for r in recorded]
            best = min(candidates, key=len)
            diffs += best
        return diffs
    return []


def error_diff(recorded: object, actual: object) -> list[str]:
    """Error bodies must carry the recorded code, message, details (and the bare ``msg``) exactly."""
    if not isinstance(recorded, dict) or not isinstance(actual, dict):
        return []
    if "msg" in recorded:
        return [] if recorded == actual else [f"bare message {actual} != {recorded}"]
    inner_rec = recorded.get("error", recorded)
    inner_act = actual.get("error", actual)
    if not isinstance(inner_rec, dict) or not isinstance(inner_act, dict):
        return [] if inner_rec == inner_act else [f"error {inner_act} != {inner_rec}"]
    return [
        f"error.{k}: {inner_act.get(k)!r} != {inner_rec.get(k)!r}"
        for k in ("code", "message", "details")
        if inner_rec.get(k) != inner_act.get(k)
    ]


@dataclass
class Outcome:
    name: str
    recorded_status: int
    status: int
    recorded_body: Any
    body: Any


@dataclass
class Scenario:
    """The simulator state the recordings assume, and the id mappings built while replaying."""

    sim: SimHarness
    thread: ThreadedSimHarness
    ticker: str
    maker: KeyPair
    ids: dict[str, str]

    def substitute(self, text: str) -> str:
        for recorded in RECORDED_MARKETS:
            text = text.replace(recorded, self.ticker)
        for recorded, actual in self.ids.items():
            text = text.replace(recorded, actual)
        return text


def _setup(thread: ThreadedSimHarness, sim: SimHarness, maker: KeyPair) -> str:
    """Pick a simulated market on a whole-cent grid and rest the demo book's two maker orders on it."""

    def build() -> str:
        exchange = sim.exchange
        markets = [
            m for m in exchange.markets.values() if m.is_trading and m.price_level_structure == "linear_cent"
        ]
        market = max(markets, key=lambda m: m.close_ns)
        user = exchange.ensure_user(maker.key_id)
        for side, price in (("bid", 4700), ("ask", 5200)):
            exchange.create_order(
                user,
                ticker=market.ticker,
                side=side,
                price=Price(price),
                count=Count(300),
                time_in_force="good_till_canceled",
                self_trade_prevention_type="taker_at_cross",
            )
        return market.ticker

    return thread.call(build)


def _headers(sim: SimHarness, signer: Signer, auth: str, name: str, method: str, path: str) -> dict[str, str]:
    if auth.startswith("NONE"):
        return {}
    ts = now_ms(SystemClock()) + SKEW_MS.get(name.split("__", 1)[1], 0)
    headers = signer.headers(method, path, ts_ms=ts)
    if auth == "bad-signature":
        headers["KALSHI-ACCESS-SIGNATURE"] = signer.sign(ts, method, "/trade-api/v2/portfolio/other")
    elif auth == "unknown-key-id":
        headers["KALSHI-ACCESS-KEY"] = "00000000-0000-0000-0000-000000000000"
    elif auth == "missing-signature-header":
        del headers["KALSHI-ACCESS-SIGNATURE"]
    if name == "auth__balance_alt_host":
        headers["Host"] = "demo-api.kalshi.co"  # the host is not part of the signature
    return headers


def _record_ids(scenario: Scenario, recorded: Any, actual: Any) -> None:
    for rec, act in ((recorded, actual), (_get(recorded, "order"), _get(actual, "order"))):
        rec_id, act_id = _get(rec, "order_id"), _get(act, "order_id")
        if isinstance(rec_id, str) and isinstance(act_id, str):
            scenario.ids.setdefault(rec_id, act_id)


def _get(body: Any, key: str) -> Any:
    return body.get(key) if isinstance(body, dict) else None


def _load(fixtures_dir: Path) -> list[tuple[str, dict[str, Any], Any]]:
    rows = []
    for meta_path in fixtures_dir.glob("*.meta.json"):
        name = meta_path.name.removesuffix(".meta.json")
        if name.startswith("ws__"):
            continue
        meta = json.loads(meta_path.read_text())
        body = json.loads((fixtures_dir / f"{name}.json").read_text())
        rows.append((name, meta, body))
    rows.sort(key=lambda row: (row[1].get("recorded_at_epoch_ms", 0) or 2**62, row[0]))
    return rows


@pytest.fixture(scope="module")
def scenario() -> Iterator[Scenario]:
    main, maker = generate_key_pair(), generate_key_pair("ed25519")
    config = SimConfig(counterparties=False, strict_shard_routing=False)
    thread = ThreadedSimHarness(exchange=Exchange(SystemClock(), seed=7, config=config), keys=[main, maker])
    sim = thread.start()
    try:
        yield Scenario(sim, thread, _setup(thread, sim, maker), maker, {})
    finally:
        thread.stop()


@pytest.fixture(scope="module")
def outcomes(scenario: Scenario, fixtures_dir: Path) -> dict[str, Outcome]:
    sim = scenario.sim
    signer = sim.signer()
    results: dict[str, Outcome] = {}
    with httpx.Client(base_url=sim.base_url, timeout=10) as client:
        for name, meta, recorded in _load(fixtures_dir):
            path = scenario.substitute(meta["path"])
            method = meta["method"]
            headers = _headers(sim, signer, str(meta.get("auth", "signed")), name, method, path.split("?")[0])
            body = meta.get("request_body")
            content = scenario.substitute(json.dumps(body)).encode() if body is not None else None
            if content is not None:
                headers["Content-Type"] = "application/json"
            response = client.request(method, path, content=content, headers=headers)
            actual = response.json()
            _record_ids(scenario, recorded, actual)
            results[name] = Outcome(name, int(meta["status"]), response.status_code, recorded, actual)
    return results


def _rest_fixture_names() -> list[str]:
    fixtures = Path(__file__).resolve().parents[3] / "shared" / "kalshi" / "fixtures_demo_2026-06-11"
    names = (p.name.removesuffix(".meta.json") for p in fixtures.glob("*.meta.json"))
    return sorted(name for name in names if not name.startswith("ws__"))


@pytest.mark.parametrize("name", _rest_fixture_names())
def test_recorded_request_gets_the_recorded_status_and_shape(name: str, outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[name]
    assert outcome.status == outcome.recorded_status, f"{name}: {outcome.status} {outcome.body}"
    diffs = shape_diff(outcome.recorded_body, outcome.body)
    if outcome.recorded_status >= 400:
        diffs += error_diff(outcome.recorded_body, outcome.body)
    assert not diffs, f"{name}: " + "; ".join(diffs)


# ---------------------------------------------------------------------------------------------
# WebSocket recordings


def _frames(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _receive_until(ws: ClientConnection, wanted: set[str], limit: int = 200) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    for _ in range(limit):
        frame = json.loads(ws.recv(timeout=5))
        seen.append(frame)
        wanted.discard(frame["type"])
        if not wanted:
            break
    return seen


@pytest.mark.parametrize("recording", ["ws__orderbook_trade_yes", "ws__orderbook_trade_noleg"])
def test_recorded_ws_session_gets_the_recorded_frame_shapes(
    recording: str, scenario: Scenario, fixtures_dir: Path
) -> None:
    meta = json.loads((fixtures_dir / f"{recording}.meta.json").read_text())
    recorded = _frames(fixtures_dir / f"{recording}.jsonl")
    sim = scenario.sim
    command = json.loads(scenario.substitute(json.dumps(meta["subscribe_cmd"])))
    headers = sim.signer().headers("GET", meta["path"])
    with connect(sim.ws_url, additional_headers=headers) as ws:
        ws.send(json.dumps(command))
        frames = _receive_until(ws, {"subscribed", "orderbook_snapshot"})

        def move_the_book() -> None:  # the maker lifts and re-rests one NO-side contract
            exchange = sim.exchange
            user = exchange.ensure_user(scenario.maker.key_id)
            order = exchange.create_order(
                user,
                ticker=scenario.ticker,
                side="ask",
                price=Price(5200),
                count=Count(100),
                time_in_force="good_till_canceled",
                self_trade_prevention_type="taker_at_cross",
            ).order
            exchange.cancel_order(user, order.order_id, exchange_index=order.exchange_index)

        scenario.thread.call(move_the_book)
        frames += _receive_until(ws, {"orderbook_delta"})
    by_type: dict[str, list[dict[str, Any]]] = {}
    for frame in recorded:
        by_type.setdefault(frame["type"], []).append(frame)
    subscribed = [f for f in frames if f["type"] == "subscribed"]
    assert [(f["id"], f["msg"]["sid"]) for f in subscribed] == [(1, 1), (1, 2)]
    snapshot = next(f for f in frames if f["type"] == "orderbook_snapshot")
    assert (snapshot["sid"], snapshot["seq"]) == (1, 1)
    deltas = [f for f in frames if f["type"] == "orderbook_delta"]
    assert [d["seq"] for d in deltas] == list(range(2, 2 + len(deltas)))
    diffs: list[str] = []
    for frame in frames:
        diffs += shape_diff(by_type[frame["type"]], [frame], frame["type"])
    assert not diffs, "; ".join(diffs)
    # The NO level 0.52 YES (0.48 NO) arrives in the scale the subscription asked for.
    no_levels = snapshot["msg"]["no_dollars_fp"]
    expected = "0.5200" if command["params"]["use_yes_price"] else "0.4800"
    assert any(level[0] == expected for level in no_levels), no_levels
