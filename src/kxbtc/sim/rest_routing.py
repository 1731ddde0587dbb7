"""The pieces every REST handler shares: the request as a handler sees it (``Call``), the route table entry
(``Route``) and the JSON and error responses."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web
from multidict import MultiMapping

from kxbtc.sim import wire
from kxbtc.sim.exchange import SimRejection
from kxbtc.sim.rate_limits import Bucket

Access = Literal["public", "optional", "private"]


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(body, separators=(",", ":")), status=status, content_type="application/json"
    )


def error_response(status: int, code: str, message: str, details: str = "") -> web.Response:
    error: dict[str, str] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return json_response({"error": error}, status)


def rejection_response(rejection: SimRejection) -> web.Response:
    return json_response(wire.error_body(rejection), rejection.status)


TOO_MANY_REQUESTS: dict[str, Any] = {"error": "too many requests"}


@dataclass(frozen=True)
class Call:
    """One authenticated (or public) API request as a handler sees it."""

    request: web.Request
    user_id: str | None
    query: MultiMapping[str]

    @property
    def user(self) -> str:
        if self.user_id is None:  # only private routes call this, and they always have a user
            raise SimRejection(401, "authentication_error", "authentication_error", "NOT_FOUND")
        return self.user_id

    def match(self, name: str) -> str:
        return self.request.match_info[name]

    async def body(self) -> bytes:
        return await self.request.read()


Handler = Callable[[Call], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # under API_PREFIX, aiohttp template syntax
    handler: Handler
    access: Access
    bucket: Bucket = "read"
    #: Order-entry writes: the ``lose_response`` fault applies to them.
    order_entry: bool = False
    #: Batch endpoints: the token cost is per order in the batch (kalshi-api.md §3.6, from the docs).
    per_item: bool = False
