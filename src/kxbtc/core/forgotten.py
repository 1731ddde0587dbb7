"""Markets the core has forgotten, waiting for the state kept per order and per fill to be dropped.

A market is forgotten once it has closed (the live engine: gone from discovery; a session or a replay: on
settlement). Its fill ids, order attributions, finished order ids and last marks are still needed for a
while after that: the reconciler re-reads the last ten minutes of fills on every pass, a late answer can
still arrive, and a position in it is valued at its last mark until its result is known. So they go
``PRUNE_AFTER_S`` later, and the marks only once the result is known (``prune`` says when to try again).
Kept for good, they grew the engine's memory by every order and fill of the day.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from kxbtc.clock import NS_PER_S

#: Seconds of the core's clock from forgetting a market to dropping its per-order and per-fill state:
#: well beyond the reconciler's re-read of recent fills (``FILLS_OVERLAP_S``, 10 minutes), so those
#: re-reads find them in memory. A fill replayed later still is found in the store (``Portfolio``).
PRUNE_AFTER_S = 1800


class ForgottenMarkets:
    """Forgotten markets in the order they are due; ``prune(ticker)`` False puts one back for later."""

    def __init__(self, prune: Callable[[str], bool], after_s: float = PRUNE_AFTER_S) -> None:
        self._prune = prune
        self._after_ns = int(after_s * NS_PER_S)
        self._due: deque[tuple[int, str]] = deque()

    def add(self, ticker: str, now_ns: int) -> None:
        self._due.append((now_ns + self._after_ns, ticker))

    def run(self, now_ns: int) -> None:
        """Prune every market due by ``now_ns``."""
        due = self._due
        while due and due[0][0] <= now_ns:
            _, ticker = due.popleft()
            if not self._prune(ticker):
                self.add(ticker, now_ns)

    def __len__(self) -> int:
        return len(self._due)
