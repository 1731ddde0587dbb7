"""The dashboard formats money, prices and counts exactly as the terminal does (``kxbtc.units``).

The page's formatting functions are pulled out of ``app.js`` and run under Node on the JSON the API sends
(exact micro-dollars and the wire's decimal strings); each result must equal the Python formatter's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from kxbtc.units import format_count, format_price, format_price_usd, format_qty, format_usd

APP_JS = Path(__file__).resolve().parents[2] / "src" / "kxbtc" / "dashboard" / "static" / "app.js"
MONEY = [-14_700_000, 8_599_300, 1_056_127_400, -4_999, 5_000, -5_000, 0, 1_302_600, -51_148_100]
PRICES = [5_600, 150, 4_918, 100, 9_900, 10]
COUNTS = [8_600, 50, 109_700, 100, 0, 1]

PROBE = """
const src = require("fs").readFileSync(process.argv[1], "utf8");
const body = src.slice(src.indexOf("function dollars("), src.indexOf("function signClass("));
const f = new Function(body + "\\nreturn {dollars, priceText, countText};")();
const input = JSON.parse(process.argv[2]);
console.log(JSON.stringify({
  money: input.money.map((m) => f.dollars({micros: m})),
  prices: input.prices.map(f.priceText),
  counts: input.counts.map(f.countText),
}));
"""


def test_the_page_formats_like_the_terminal() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    data = {
        "money": MONEY,
        "prices": [format_price(p) for p in PRICES],
        "counts": [format_count(c) for c in COUNTS],
    }
    out = subprocess.run(
        [node, "-e", PROBE, str(APP_JS), json.dumps(data)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    shown = json.loads(out)
    assert shown["money"] == [format_usd(m) for m in MONEY]
    assert shown["prices"] == [format_price_usd(p) for p in PRICES]
    assert shown["counts"] == [format_qty(c) for c in COUNTS]
