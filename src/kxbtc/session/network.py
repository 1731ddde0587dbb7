"""A seeded model of the network between the trading core and a venue.

Each direction is one ordered channel (as one TCP connection is): a message's delay is a base latency
plus a non-negative jitter drawn from the seeded generator, and no message overtakes the one sent before
it on the same channel. Market-data messages may be lost with a given probability (the stream's sequence
check then finds the gap and the book is rebuilt from a snapshot, see ``sim_venue``).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from kxbtc.clock import NS_PER_MS


@dataclass(frozen=True, slots=True)
class NetworkConfig:
    latency_ms: float = 20.0  # one way
    jitter_ms: float = 5.0  # mean of the exponential extra delay
    loss: float = 0.0  # probability that one market-data message is lost

    def __post_init__(self) -> None:
        for name in ("latency_ms", "jitter_ms", "loss"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, not {value!r}")
        if self.loss >= 1:
            raise ValueError("loss must be below 1")


class Channel:
    """One direction: the time each message arrives, in order."""

    def __init__(self, config: NetworkConfig, rng: random.Random) -> None:
        self._base_ns = int(config.latency_ms * NS_PER_MS)
        self._jitter_ns = config.jitter_ms * NS_PER_MS
        self._loss = config.loss
        self._rng = rng
        self._last_arrival_ns = 0
        self.sent = 0
        self.lost = 0

    def arrival_ns(self, sent_ns: int) -> int:
        extra = int(self._rng.expovariate(1 / self._jitter_ns)) if self._jitter_ns > 0 else 0
        arrival = max(sent_ns + self._base_ns + extra, self._last_arrival_ns)
        self._last_arrival_ns = arrival
        self.sent += 1
        return arrival

    def drops(self) -> bool:
        """Whether the next lossy message is lost."""
        if self._loss and self._rng.random() < self._loss:
            self.lost += 1
            return True
        return False


class Network:
    """The two channels between core and venue, from one seed."""

    def __init__(self, config: NetworkConfig, seed: int) -> None:
        rng = random.Random(f"network-{seed}")
        self.config = config
        self.to_core = Channel(config, rng)
        self.to_venue = Channel(config, rng)
