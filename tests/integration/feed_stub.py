"""A local stub of the evidence sources on 127.0.0.1: an RSS feed, a JSON news feed, a macro calendar
and X's recent search (bearer token required), each counting its hits. Bodies are set per test."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import loopback
from aiohttp import web


@dataclass
class FeedStub:
    bodies: dict[str, tuple[int, bytes, str]] = field(default_factory=dict)  # path -> (status, body, type)
    hits: Counter[str] = field(default_factory=Counter)
    x_token: str = "x-bearer-token"
    x_queries: list[str] = field(default_factory=list)
    base_url: str = ""
    _runner: web.AppRunner | None = None

    def serve(self, path: str, body: str, content_type: str = "application/json", status: int = 200) -> None:
        self.bodies[path] = (status, body.encode(), content_type)

    def url(self, path: str) -> str:
        return self.base_url + path

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/{path:.*}", self._handle)
        self._runner, port = await loopback.serve(app)
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        self.hits[path] += 1
        if path == "/2/tweets/search/recent":
            if request.headers.get("Authorization") != f"Bearer {self.x_token}":
                return web.json_response({"title": "Unauthorized"}, status=401)
            self.x_queries.append(request.query.get("query", ""))
        if path not in self.bodies:
            return web.Response(status=404, text="not found")
        status, body, content_type = self.bodies[path]
        return web.Response(status=status, body=body, content_type=content_type)


def rss(*items: tuple[str, str, str]) -> str:
    """An RSS 2.0 document with (title, description, RFC 822 date) items; text is XML-escaped."""
    from xml.sax.saxutils import escape

    entries = "".join(
        f"<item><title>{escape(t)}</title><description>{escape(d)}</description><pubDate>{when}</pubDate></item>"
        for t, d, when in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>stub</title>{entries}</channel></rss>'
