"""Files a user hands kxbtc: configuration (TOML and environment), one-minute candle CSVs, kxbtc
recordings and the shared research format. Each is read or refused with kxbtc's typed errors."""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fuzzing import FUZZ, JSON, mutated
from hypothesis import given
from hypothesis import strategies as st

from kxbtc.backtest.recording import FORMAT, VERSION
from kxbtc.config import load_config
from kxbtc.errors import KxbtcError
from kxbtc.pricing.candle_file import load_candles
from kxbtc.recordings.gaps import read_gaps_csv
from kxbtc.recordings.kxbtc_file import KxbtcRecording
from kxbtc.recordings.shared_folder import read_markets_csv, read_spot_file, read_ws_file


@contextlib.contextmanager
def written(name: str, content: bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="kxbtc-fuzz-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(content)
        yield path


# -- configuration ----------------------------------------------------------------------------------

SECTIONS = ["risk", "strategies.fair_value", "engine", "llm", "llm.roles.lead", "polymarket", "kalshi"]
KEYS = ["daily_loss_pct", "enabled", "min_edge", "trading", "weight", "max_contracts", "env", "x"]
TOML_VALUES = st.sampled_from(
    [
        '"yes"',
        "true",
        "1",
        "-5",
        "1e999",
        "nan",
        "inf",
        '"0.123456789"',
        "[1, 2]",
        "{a = 1}",
        "9" * 400,
        "1979-05-27T07:32:00Z",
        '"\\u0000"',
        "0x10",
        '""',
    ]
)


@st.composite
def toml_documents(draw: Any) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 4))):
        lines.append(f"[{draw(st.sampled_from(SECTIONS))}]")
        for _ in range(draw(st.integers(0, 3))):
            lines.append(f"{draw(st.sampled_from(KEYS))} = {draw(TOML_VALUES)}")
    text = "\n".join(lines).encode()
    return draw(st.one_of(st.just(text), st.binary(max_size=40), st.just(text + draw(st.binary(max_size=4)))))


@FUZZ
@given(document=toml_documents())
def test_config_files_load_or_raise_config_error(document: bytes) -> None:
    with written("kxbtc.toml", document) as path, contextlib.suppress(KxbtcError):
        load_config(path, environ={})


ENV_NAMES = st.sampled_from(
    [
        "KXBTC_RISK__DAILY_LOSS_PCT",
        "KXBTC_RISK",
        "KXBTC_RISK_DAILY_LOSS_PCT",
        "KXBTC_STRATEGIES__FAIR_VALUE__ENABLED",
        "KXBTC_LLM__ROLES__LEAD__WEIGHT",
        "KXBTC_ENGINE__TRADING",
        "KXBTC___",
        "KXBTC_RISK____X",
        "KXBTC_LLM__ROLES",
        "KXBTC_STRATEGIES__NOPE__ENABLED",
        "KXBTC_OTHER",
    ]
)


@FUZZ
@given(environ=st.dictionaries(ENV_NAMES, st.one_of(st.text(max_size=8), TOML_VALUES), max_size=4))
def test_environment_variables_load_or_raise_config_error(environ: dict[str, str]) -> None:
    with contextlib.suppress(KxbtcError):
        load_config(environ=environ)


# -- CSV files --------------------------------------------------------------------------------------

CELLS = st.one_of(
    st.sampled_from(
        [
            "1780315200",
            "2026-06-01T12:00:00Z",
            "100000.5",
            "0",
            "-1",
            "nan",
            "inf",
            "",
            "x",
            "9" * 30,
            "9" * 5000,
            "1780315260000",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31",
        ]
    ),
    st.text(max_size=6),
)


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")


@st.composite
def csv_files(draw: Any, header: list[str]) -> bytes:
    head = draw(
        st.one_of(st.just(header), st.permutations(header), st.lists(st.sampled_from(header), max_size=6))
    )
    rows = draw(st.lists(st.lists(CELLS, min_size=max(0, len(head) - 1), max_size=len(head) + 1), max_size=5))
    return draw(st.one_of(st.just(_csv([head, *rows])), st.binary(max_size=30)))


@FUZZ
@given(content=csv_files(["open_time", "open", "high", "low", "close", "volume"]))
def test_candle_files_load_or_raise_typed(content: bytes) -> None:
    with written("candles.csv", content) as path, contextlib.suppress(KxbtcError):
        load_candles(path)


@FUZZ
@given(
    content=csv_files(["ticker", "open_time", "close_time", "floor_strike", "result", "expiration_value"]),
)
def test_shared_markets_csv_reads_or_raises_typed(content: bytes) -> None:
    with written("markets.csv", content) as path, contextlib.suppress(KxbtcError):
        read_markets_csv(path)


@FUZZ
@given(content=csv_files(["t_last_ok_ns", "t_resync_ns", "market_ticker"]))
def test_gap_csv_reads_or_raises_typed(content: bytes) -> None:
    with written("gaps.csv", content) as path, contextlib.suppress(KxbtcError):
        read_gaps_csv(path)


@FUZZ
@given(content=csv_files(["t_ns", "exchange_ts", "price", "source"]), zipped=st.booleans())
def test_shared_spot_files_read_or_raise_typed(content: bytes, zipped: bool) -> None:
    raw = gzip.compress(content) if zipped else content
    with written("spot_2026-05-13.csv.gz", raw) as path, contextlib.suppress(KxbtcError):
        list(read_spot_file(path))


@FUZZ
@given(lines=st.lists(JSON.map(lambda v: json.dumps(v).encode()), max_size=4), zipped=st.booleans())
def test_shared_ws_day_files_read_or_raise_typed(lines: list[bytes], zipped: bool) -> None:
    content = b"\n".join([b'{"t": 1, "conn": 1, "frame": {"type": "x"}}', *lines]) + b"\n"
    raw = gzip.compress(content) if zipped else content
    with written("kalshi_ws_2026-05-13.jsonl.gz", raw) as path, contextlib.suppress(KxbtcError):
        list(read_ws_file(path))


# -- kxbtc recordings -------------------------------------------------------------------------------

T0 = 1_780_315_260_000_000_000
HEADER = {
    "t": T0,
    "k": "header",
    "format": FORMAT,
    "version": VERSION,
    "series": ["KXBTC15M"],
    "use_yes_price": True,
}
SEED_LINES = [
    {
        "t": T0,
        "k": "market",
        "ticker": "KXBTC15M-26JUN010815-15",
        "event_ticker": "KXBTC15M-26JUN010815",
        "series_ticker": "KXBTC15M",
        "status": "active",
        "strike_type": "greater_or_equal",
        "floor_strike": "100000.00",
        "cap_strike": None,
        "open_time_ns": T0 - 60 * 10**9,
        "close_time_ns": T0 + 840 * 10**9,
        "exchange_index": 2,
        "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
        "fee_type": "quadratic",
        "fee_multiplier": "1",
        "yes_sub_title": "",
    },
    {"t": T0, "k": "connection", "up": True},
    {
        "t": T0,
        "k": "ws",
        "frame": {"type": "subscribed", "id": 1, "msg": {"channel": "orderbook_delta", "sid": 3}},
    },
    {"t": T0 + 1, "k": "result", "ticker": "KXBTC15M-26JUN010815-15", "result": "yes"},
]


@FUZZ
@given(header=mutated([HEADER], rounds=1), lines=st.lists(mutated(SEED_LINES), max_size=4))
def test_kxbtc_recordings_read_or_raise_typed(header: Any, lines: list[Any]) -> None:
    content = "\n".join(json.dumps(line) for line in [header, *SEED_LINES, *lines]).encode() + b"\n"
    with written("r.jsonl", content) as path, contextlib.suppress(KxbtcError):
        recording = KxbtcRecording(path)
        recording.markets()
        list(recording.events())
