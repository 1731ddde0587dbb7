"""Local stubs' servers: an aiohttp app on 127.0.0.1 at a port the OS picks (tests never bind a fixed
port, so parallel runs and leftovers cannot collide)."""

from __future__ import annotations

from aiohttp import web


async def serve(app: web.Application) -> tuple[web.AppRunner, int]:
    """Start ``app`` on 127.0.0.1; its runner (``await runner.cleanup()`` stops it) and port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port: int = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, port
