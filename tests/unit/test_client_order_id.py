"""Client order ids are uuid5 of the parts: spelled out for speed, they must stay the very same ids (a
restarted run re-creates them to resolve an order whose answer was lost)."""

from __future__ import annotations

import uuid

import pytest

from kxbtc.domain.orders import CLIENT_ORDER_NAMESPACE, client_order_id


@pytest.mark.parametrize(
    "parts",
    [
        ("run-1", "fair_value", "KXBTCD-26MAY1317-T100000", 1),
        ("run-1", "fair_value", "KXBTCD-26MAY1317-T100000", 2),
        ("r", "é unicode ✓", "", 10**12),
        ("only",),
    ],
)
def test_the_id_is_uuid5_of_the_parts(parts: tuple[str | int, ...]) -> None:
    expected = str(uuid.uuid5(CLIENT_ORDER_NAMESPACE, "\x1f".join(str(p) for p in parts)))
    assert client_order_id(*parts) == expected


def test_ids_differ_by_sequence_and_need_a_part() -> None:
    assert client_order_id("run", "s", "T", 1) != client_order_id("run", "s", "T", 2)
    with pytest.raises(ValueError):
        client_order_id()
