"""Where the simulator serves Kalshi's API and the knobs of its server (``ServerConfig``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kxbtc.sim.auth_check import DEFAULT_MAX_FUTURE_MS, DEFAULT_MAX_PAST_MS
from kxbtc.sim.faults import FaultSpec

API_PREFIX = "/trade-api/v2"
WS_PATH = "/trade-api/ws/v2"


@dataclass(frozen=True)
class ServerConfig:
    max_past_ms: int = DEFAULT_MAX_PAST_MS
    max_future_ms: int = DEFAULT_MAX_FUTURE_MS
    faults: FaultSpec = field(default_factory=FaultSpec)
    fault_seed: int = 0
    #: Per-user token buckets (Basic tier: 200 read / 100 write tokens per second, 1 s of burst).
    rate_limit: bool = False
    read_rate: int = 200
    write_rate: int = 100
    #: Bodies above this size get 413 (Kalshi's limit is not documented).
    max_body_bytes: int = 1 << 20
    heartbeat_s: float = 10.0
    #: Frames queued for one WebSocket client before its subscriptions end with error 25 (slow reader).
    ws_buffer_frames: int = 100_000
