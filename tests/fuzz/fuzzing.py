"""Shared pieces of the fuzz tests: the example budget and JSON mutation strategies.

``make test`` runs each property with ``KXBTC_FUZZ_EXAMPLES`` unset: a small, derandomized budget (the
same examples every run). ``make fuzz`` sets ``KXBTC_FUZZ_EXAMPLES`` (e.g. 5000): that many examples per
property, randomized, so every run explores new inputs. A failure prints the minimal input; add it as a
regression test beside the fix.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("KXBTC_FUZZ_EXAMPLES", "0"))
FUZZING = EXAMPLES > 0

#: The budget per property: small and deterministic in ``make test``, large and random in ``make fuzz``.
FUZZ = settings(
    max_examples=EXAMPLES if FUZZING else 60,
    derandomize=not FUZZING,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)

TESTS = Path(__file__).resolve().parents[1]
SHARED = TESTS.parents[1] / "shared"
KALSHI_FIXTURES = SHARED / "kalshi" / "fixtures_demo_2026-06-11"

# Awkward leaves: the numbers and strings that broke parsers elsewhere (huge, non-finite, signed zero,
# off-format decimals, wrong types).
_AWKWARD_NUMBERS = st.sampled_from([0, -1, 2**63, -(2**63) - 1, 10**30, 1e308, -0.0, 0.5, 1e-9, 10**400])
_AWKWARD_STRINGS = st.sampled_from(
    [
        "",
        "nan",
        "NaN",
        "inf",
        "-inf",
        "1e999",
        "0.12345",
        "-0.01",
        "1,5",
        " 1",
        "0x10",
        "١٢",
        "9" * 5000,
        "\x00",
    ]
)
LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    _AWKWARD_NUMBERS,
    _AWKWARD_STRINGS,
)
JSON = st.recursive(
    LEAF,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out += _paths(child, (*prefix, index))
    return out


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replace(copy[head], rest, new)
    return copy


def _drop(value: Any, path: tuple[Any, ...]) -> Any:
    if len(path) == 1 and isinstance(value, dict):
        return {k: v for k, v in value.items() if k != path[0]}
    if len(path) == 1:
        return value[: path[0]] + value[path[0] + 1 :]
    return _replace(value, path[:-1], _drop(_value_at(value, path[:-1]), path[-1:]))


def _value_at(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


@st.composite
def mutated(draw: Callable[..., Any], seeds: list[Any], rounds: int = 3) -> Any:
    """A real message with up to ``rounds`` leaves or subtrees replaced by awkward values or removed."""
    value = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(0, rounds))):
        paths = _paths(value)
        path = draw(st.sampled_from(paths))
        if path and draw(st.booleans()) and draw(st.booleans()):
            value = _drop(value, path)
        else:
            value = _replace(value, path, draw(JSON))
    return value


def frames(seeds: list[Any]) -> st.SearchStrategy[bytes]:
    """Mutated real messages as JSON text, plus arbitrary bytes and truncations."""
    encoded = mutated(seeds).map(lambda v: json.dumps(v).encode())
    return st.one_of(
        encoded,
        encoded.flatmap(lambda raw: st.integers(0, len(raw)).map(lambda n: raw[:n])),
        st.binary(max_size=64),
    )


def jsonl(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
