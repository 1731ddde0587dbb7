"""Fetch and parse the text sources the LLM roles may see: RSS/Atom feeds, JSON feeds, a macro-release
calendar, and X's recent search.

Every source yields ``EvidenceItem``s: plain text, no markup, with a time when the source gives one.
RSS and Atom are parsed by ``feedparser`` (maintained; it parses from the bytes we fetched, never over
the network itself, does not resolve external entities, and strips scripts from HTML). Everything
here is untrusted: it is only ever shown to a model inside the delimited block ``kxbtc.llm.evidence``
builds, and nothing here can reach a limit, a schema or an order. Failures raise ``EvidenceError``.
"""

from __future__ import annotations

import calendar
import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx2

from kxbtc.clock import NS_PER_S, parse_utc_ns
from kxbtc.config import LlmSourceConfig
from kxbtc.errors import EvidenceError

#: X's recent-search endpoint (v2); ``url`` in the source's settings overrides it (tests use a stub).
X_RECENT_SEARCH_URL = "https://api.x.com/2/tweets/search/recent"
#: Largest body read from any source.
MAX_BODY_BYTES = 2_000_000

_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    source: str
    title: str
    text: str
    ts_ns: int | None  # when published (or when a calendar release is due); None if unknown


def plain(text: str) -> str:
    """Markup, entities and control characters out, whitespace collapsed: what a model is shown."""
    return _SPACE.sub(" ", _CONTROL.sub(" ", html.unescape(_TAG.sub(" ", text)))).strip()


def _parse_time(value: object) -> int | None:
    """ISO-8601 with a zone, or Unix seconds; None for anything else."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value * NS_PER_S)
    if isinstance(value, str) and value:
        try:
            return parse_utc_ns(value)
        except ValueError:
            return None
    return None


def parse_rss(name: str, body: bytes) -> list[EvidenceItem]:
    import feedparser  # imported on use: only configured feeds pay for it

    feed = feedparser.parse(body)
    if not feed.entries and (feed.bozo or not feed.get("version")):
        why = feed.get("bozo_exception") or "no feed version recognised"
        raise EvidenceError(f"not an RSS/Atom feed ({why})", source=name)
    items = []
    for entry in feed.entries:
        when = entry.get("published_parsed") or entry.get("updated_parsed")
        ts = calendar.timegm(when) * NS_PER_S if when else None  # feedparser's times are UTC
        items.append(
            EvidenceItem(name, plain(str(entry.get("title", ""))), plain(str(entry.get("summary", ""))), ts)
        )
    return items


def _walk(doc: Any, path: str, name: str) -> list[Any]:
    for key in [k for k in path.split(".") if k]:
        if not isinstance(doc, dict) or key not in doc:
            raise EvidenceError(f"no {key!r} in the JSON document (items_path {path!r})", source=name)
        doc = doc[key]
    if not isinstance(doc, list):
        raise EvidenceError(f"items_path {path!r} is not a list", source=name)
    return doc


def _json(name: str, body: bytes) -> Any:
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EvidenceError(f"not JSON ({exc})", source=name) from None


def parse_json_feed(name: str, cfg: LlmSourceConfig, body: bytes) -> list[EvidenceItem]:
    items = []
    for entry in _walk(_json(name, body), cfg.items_path, name):
        if not isinstance(entry, dict):
            continue
        title, text = plain(str(entry.get(cfg.title_field, ""))), plain(str(entry.get(cfg.text_field, "")))
        if title or text:
            items.append(EvidenceItem(name, title, text, _parse_time(entry.get(cfg.time_field))))
    return items


def parse_x(name: str, body: bytes) -> list[EvidenceItem]:
    doc = _json(name, body)
    posts = doc.get("data", []) if isinstance(doc, dict) else []
    return [
        EvidenceItem(name, "post", plain(str(p.get("text", ""))), _parse_time(p.get("created_at")))
        for p in posts
        if isinstance(p, dict) and p.get("text")
    ]


def parse_calendar(name: str, cfg: LlmSourceConfig, body: bytes, now_ns: int) -> list[EvidenceItem]:
    """Releases from an hour ago to ``horizon_h`` ahead, soonest first, each with the time left."""
    entries = _walk(_json(name, body), cfg.items_path, name)
    start, end = now_ns - 3_600 * NS_PER_S, now_ns + int(cfg.horizon_h * 3_600 * NS_PER_S)
    items = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        ts = _parse_time(entry.get("time"))
        if ts is None or not start <= ts <= end:
            continue
        event = plain(str(entry.get("event", "")))
        importance = plain(str(entry.get("importance", "")))
        minutes = (ts - now_ns) // (60 * NS_PER_S)
        due = f"in {minutes} min" if minutes >= 0 else f"{-minutes} min ago"
        text = f"{event}" + (f" ({importance} importance)" if importance else "") + f", {due}"
        items.append(EvidenceItem(name, "release", text, ts))
    return sorted(items, key=lambda i: i.ts_ns or 0)


async def _get(
    http: httpx2.AsyncClient,
    name: str,
    url: str,
    timeout_s: float,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> bytes:
    try:
        response = await http.get(url, params=params, headers=headers, timeout=timeout_s)
    except httpx2.HTTPError as exc:
        raise EvidenceError(f"fetch failed: {type(exc).__name__}", source=name) from None
    if not response.is_success:
        raise EvidenceError("HTTP error", source=name, status=response.status_code)
    return response.content[:MAX_BODY_BYTES]


async def fetch(
    name: str,
    cfg: LlmSourceConfig,
    http: httpx2.AsyncClient,
    now_ns: int,
    environ: Mapping[str, str],
) -> list[EvidenceItem]:
    """The source's current items (at most ``max_items``, newest first where times are known)."""
    if cfg.kind == "rss":
        items = parse_rss(name, await _get(http, name, cfg.url, cfg.timeout_s))
    elif cfg.kind == "json":
        items = parse_json_feed(name, cfg, await _get(http, name, cfg.url, cfg.timeout_s))
    elif cfg.kind == "calendar":
        if cfg.path is not None:
            try:
                body = cfg.path.read_bytes()[:MAX_BODY_BYTES]
            except OSError as exc:
                raise EvidenceError(f"cannot read {cfg.path}: {exc.strerror}", source=name) from None
        else:
            body = await _get(http, name, cfg.url, cfg.timeout_s)
        return parse_calendar(name, cfg, body, now_ns)[: cfg.max_items]
    else:
        token = environ.get(cfg.api_key_env, "").strip()
        if not token:
            return []  # the X search runs only when its key is given
        params = {
            "query": cfg.query,
            "max_results": str(max(10, cfg.max_items)),
            "tweet.fields": "created_at",
        }
        body = await _get(
            http, name, cfg.url or X_RECENT_SEARCH_URL, cfg.timeout_s, params,
            {"Authorization": f"Bearer {token}"},
        )  # fmt: skip
        items = parse_x(name, body)
    items.sort(key=lambda i: i.ts_ns if i.ts_ns is not None else -1, reverse=True)
    return items[: cfg.max_items]
