"""How the tearsheet writes numbers for people and for JSON.

Money is an integer of micro-dollars everywhere inside the report; only here does it become text. People
read dollars and cents with the sign before the symbol (``-$1.25``), so a loss is never mistaken for a
gain by a reader skimming a column. JSON carries the exact micro-dollar integer, the exact decimal string
(``render.money_json``, as every other ``--json`` does) and the text the page shows.
"""

from __future__ import annotations

from kxbtc.ops.render import JsonObject, money_json
from kxbtc.units import COUNT_SCALE, PRICE_SCALE, format_contracts, format_usd

_NO_VALUE = "—"


def dollars(micros: int) -> str:
    """``-1_250_000`` -> ``-$1.25`` (``kxbtc.units.format_usd``: one formatter for every output)."""
    return format_usd(micros)


def signed_dollars(micros: int) -> str:
    """Like ``dollars`` but a gain carries ``+``: for P&L columns, where the direction is the point."""
    text = dollars(micros)
    return text if text.startswith("-") or text == "$0.00" else f"+{text}"


def per_contract(price_units: int) -> str:
    """A price-grid amount (1e-4 $) per contract: ``-50`` -> ``-$0.0050``. Four places, because
    slippage and fees per contract are usually fractions of a cent."""
    whole, frac = divmod(abs(price_units), PRICE_SCALE)
    sign = "-" if price_units < 0 else ""
    return f"{sign}${whole}.{frac:04d}"


def contracts(count: int) -> str:
    """``8600`` -> ``86 contracts`` (``kxbtc.units.format_contracts``)."""
    return format_contracts(count)


def percent(part: float, whole: float) -> str:
    """``part / whole`` as a percentage with one decimal; a dash when there is nothing to divide by."""
    if not whole:
        return _NO_VALUE
    return f"{100 * part / whole:.1f}%"


def probability(value: float | None) -> str:
    return _NO_VALUE if value is None else f"{value:.3f}"


def money_per_count(money: int, count: int) -> int:
    """Money (1e-6 $) over a Count (1e-2 contracts) is dollars per contract on the price grid (1e-4 $),
    rounded half away from zero."""
    if count == 0:
        return 0
    magnitude = (2 * abs(money) + abs(count)) // (2 * abs(count))
    return magnitude if (money < 0) == (count < 0) else -magnitude


def money(micros: int) -> JsonObject:
    """JSON money: ``{"micros": -1250000, "dollars": "-1.250000", "display": "-$1.25"}``."""
    return {**money_json(micros), "display": dollars(micros)}


def price_json(price_units: int) -> JsonObject:
    """JSON for a per-contract amount on the price grid: exact decimal string and the text shown."""
    whole, frac = divmod(abs(price_units), PRICE_SCALE)
    sign = "-" if price_units < 0 else ""
    return {
        "units_1e4": price_units,
        "dollars": f"{sign}{whole}.{frac:04d}",
        "display": per_contract(price_units),
    }


def count_json(count: int) -> JsonObject:
    whole, frac = divmod(abs(count), COUNT_SCALE)
    sign = "-" if count < 0 else ""
    return {"hundredths": count, "contracts": f"{sign}{whole}.{frac:02d}", "display": contracts(count)}
