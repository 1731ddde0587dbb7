"""Retry and reconnect delays: exponential with equal jitter, shared by every client.

Jitter keeps many clients (or many sockets of one process) from retrying in lockstep after a
venue-wide failure; the floor of half the cap keeps a retry from coming back at once.
"""

from __future__ import annotations

import random


def equal_jitter(exponent: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Uniform in [cap/2, cap] seconds, where cap = min(max_s, base_s * 2**exponent)."""
    cap = min(max_s, base_s * 2.0 ** min(exponent, 30))
    return cap / 2 + rng.random() * cap / 2
