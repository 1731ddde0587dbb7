"""Run the simulator in-process: for tests, benchmarks and ``kxbtc sim serve``.

``SimHarness`` starts the server on ``127.0.0.1:0`` in the running event loop and hands back the real
base URLs and a trusted key pair; ``ThreadedSimHarness`` does the same on a background thread with its own
loop, for synchronous clients. The exchange steps on its clock in a background task.

    async with SimHarness() as sim:
        signer = sim.signer()
        ...  # talk to sim.rest_url / sim.ws_url with signer.headers(method, path)

With ``polymarket=True`` a simulated Polymarket venue (``kxbtc.sim.polymarket.PolySim``, driven by the same
exchange and clock) is served beside it on a port of its own: ``poly_http_url`` (Gamma and CLOB) and
``poly_ws_url`` (the market WebSocket).

The server checks signatures and refills rate-limit buckets on real time (``real_clock``, the system clock
by default). To run everything on one virtual clock (``kxbtc.virtual_loop``), pass the same
``kxbtc.clock.LoopClock`` as ``clock`` and ``real_clock``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from kxbtc.clock import Clock, SystemClock
from kxbtc.errors import ConfigError
from kxbtc.kalshi.auth import Signer
from kxbtc.sim.exchange import Exchange
from kxbtc.sim.poly_config import PolySimConfig
from kxbtc.sim.poly_server import WS_MARKET_PATH, PolyServer
from kxbtc.sim.polymarket import PolySim
from kxbtc.sim.server import API_PREFIX, WS_PATH, ServerConfig, SimServer, TokenBuckets

T = TypeVar("T")


@dataclass(frozen=True)
class KeyPair:
    key_id: str
    private_key_pem: bytes
    public_key_pem: bytes

    def __repr__(self) -> str:
        return f"KeyPair(key_id={self.key_id!r})"

    def write_private_key(self, directory: Path) -> Path:
        """Write the private key to ``directory/<key_id>.pem`` with mode 0600."""
        path = directory / f"{self.key_id}.pem"
        path.touch(mode=0o600, exist_ok=False)
        path.write_bytes(self.private_key_pem)
        return path


def generate_key_pair(kind: Literal["rsa", "ed25519"] = "rsa", key_id: str | None = None) -> KeyPair:
    """A fresh API key: RSA 2048 (PKCS#8 PEM) or Ed25519, with a random UUID key id."""
    private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    private = rsa.generate_private_key(65537, 2048) if kind == "rsa" else ed25519.Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return KeyPair(key_id or str(uuid.uuid4()), private_pem, public_pem)


class SimHarness:
    """The simulator server running in the current event loop."""

    def __init__(
        self,
        exchange: Exchange | None = None,
        *,
        config: ServerConfig | None = None,
        clock: Clock | None = None,
        auth_clock: Clock | None = None,
        real_clock: Clock | None = None,
        seed: int = 0,
        keys: list[KeyPair] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        step_interval_s: float = 0.1,
        polymarket: bool = False,
        poly_config: PolySimConfig | None = None,
        poly_port: int = 0,
    ) -> None:
        self.clock: Clock = clock or (exchange.clock if exchange is not None else SystemClock())
        self.exchange = exchange or Exchange(self.clock, seed=seed)
        self._real_clock = real_clock
        self.server = SimServer(self.exchange, config, auth_clock=auth_clock or real_clock)
        if real_clock is not None:
            # On one virtual clock there is no separate real time: rate limits refill on it too.
            self.server.buckets = TokenBuckets(
                real_clock, self.server.config.read_rate, self.server.config.write_rate
            )
        self.keys = keys if keys is not None else [generate_key_pair()]
        for key in self.keys:
            self.server.trust(key.key_id, key.public_key_pem)
        self.host = host
        self.port = port
        self._step_interval_s = step_interval_s
        self._runner: web.AppRunner | None = None
        self._stepper: asyncio.Task[None] | None = None
        #: The simulated Polymarket venue, when ``polymarket=True``.
        self.poly: PolySim | None = None
        self.poly_server: PolyServer | None = None
        if polymarket:
            self.poly = PolySim(self.exchange, poly_config, seed=self.exchange.seed)
            self.poly_server = PolyServer(self.poly)
        self.poly_port = poly_port
        self._poly_runner: web.AppRunner | None = None
        self._poly_stepper: asyncio.Task[None] | None = None

    @property
    def key(self) -> KeyPair:
        return self.keys[0]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def rest_url(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}{WS_PATH}"

    @property
    def poly_http_url(self) -> str:
        """The simulated Polymarket venue's Gamma and CLOB base URL."""
        self._require_poly()
        return f"http://{self.host}:{self.poly_port}"

    @property
    def poly_ws_url(self) -> str:
        """The simulated Polymarket venue's market WebSocket."""
        self._require_poly()
        return f"ws://{self.host}:{self.poly_port}{WS_MARKET_PATH}"

    def _require_poly(self) -> None:
        if self.poly is None:
            raise ConfigError("the simulated Polymarket venue is off: use SimHarness(..., polymarket=True)")

    def signer(self, key: KeyPair | None = None, clock: Clock | None = None) -> Signer:
        chosen = key or self.key
        return Signer(chosen.key_id, chosen.private_key_pem, clock or self._real_clock)

    def user_id(self, key: KeyPair | None = None) -> str:
        return self.exchange.ensure_user((key or self.key).key_id)

    async def start(self) -> None:
        self._runner = web.AppRunner(
            self.server.app, handle_signals=False, access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            self.port = int(self._runner.addresses[0][1])
        if self._step_interval_s > 0:
            self._stepper = asyncio.create_task(self.exchange.run(self._step_interval_s), name="sim-step")
        if self.poly is not None and self.poly_server is not None:
            await self._start_poly(self.poly, self.poly_server)

    async def _start_poly(self, poly: PolySim, server: PolyServer) -> None:
        self._poly_runner = web.AppRunner(
            server.app, handle_signals=False, access_log=None, shutdown_timeout=1.0
        )
        await self._poly_runner.setup()
        site = web.TCPSite(self._poly_runner, self.host, self.poly_port)
        await site.start()
        if self.poly_port == 0:
            self.poly_port = int(self._poly_runner.addresses[0][1])
        if self._step_interval_s > 0:
            self._poly_stepper = asyncio.create_task(poly.run(self._step_interval_s), name="poly-sim-step")

    async def stop(self) -> None:
        await self._stop_poly()
        if self._stepper is not None:
            self._stepper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stepper
            self._stepper = None
        await self.server.ws.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _stop_poly(self) -> None:
        if self._poly_stepper is not None:
            self._poly_stepper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poly_stepper
            self._poly_stepper = None
        if self.poly_server is not None:
            await self.poly_server.close_all()
        if self._poly_runner is not None:
            await self._poly_runner.cleanup()
            self._poly_runner = None

    async def __aenter__(self) -> SimHarness:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


class ThreadedSimHarness:
    """A ``SimHarness`` on a daemon thread with its own event loop, for synchronous callers.

    The exchange is only touched from that thread; use ``call`` to run a function there.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sim-harness", daemon=True)
        self.harness: SimHarness | None = None

    def start(self) -> SimHarness:
        self._thread.start()

        async def boot() -> SimHarness:
            harness = SimHarness(**self._kwargs)
            await harness.start()
            return harness

        self.harness = asyncio.run_coroutine_threadsafe(boot(), self._loop).result(timeout=30)
        return self.harness

    def stop(self) -> None:
        if self.harness is not None:
            asyncio.run_coroutine_threadsafe(self.harness.stop(), self._loop).result(timeout=30)
            self.harness = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn()`` on the harness thread and return its result."""
        future: Future[T] = Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed back to the caller's thread
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return future.result(timeout=30)

    def __enter__(self) -> SimHarness:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
