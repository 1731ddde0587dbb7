"""Alerts reach a webhook receiver on 127.0.0.1 in each service's format, for each trigger.

The receiver is a real aiohttp server; the notifier posts over HTTP as it would to Slack, Discord or
Telegram. Time (retry backoff, the disconnection bound, the day boundary) moves only by hand.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import loopback
import pytest
from aiohttp import web

from kxbtc.alerts.watch import AlertWatch
from kxbtc.alerts.webhook import WebhookNotifier
from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.config import AlertsConfig, Config, WebhookConfig
from kxbtc.core.feed import connection, market_settled, order_filled, risk_event
from kxbtc.store.records import FillRecord, RiskEventRecord
from kxbtc.units import Count, Money, Price

DAY_ONE = 1_778_630_400 * NS_PER_S  # 2026-05-13T00:00:00Z


@dataclass
class Receiver:
    url: str
    bodies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    fail_first: int = 0  # answer 503 this many times before accepting

    def texts(self, path: str) -> list[str]:
        return [b.get("text") or b.get("content") or "" for b in self.bodies.get(path, [])]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver("")

    async def hook(request: web.Request) -> web.Response:
        if state.fail_first > 0:
            state.fail_first -= 1
            return web.Response(status=503)
        state.bodies.setdefault(request.path, []).append(await request.json())
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/{tail:.*}", hook)
    runner, port = await loopback.serve(app)
    state.url = f"http://127.0.0.1:{port}"
    yield state
    await runner.cleanup()


class InstantClock(ManualClock):
    """Backoff sleeps pass at once (and are kept, to check them)."""

    def __init__(self, start_ns: int) -> None:
        super().__init__(start_ns)
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)


HOOKS = {
    "slack": lambda url: WebhookConfig(url=f"{url}/services/T/B/x", format="slack"),
    "discord": lambda url: WebhookConfig(url=f"{url}/api/webhooks/1/x", format="discord"),
    "telegram": lambda url: WebhookConfig(url=f"{url}/botTOKEN/sendMessage", format="telegram", chat_id="42"),
}
PATHS = {"slack": "/services/T/B/x", "discord": "/api/webhooks/1/x", "telegram": "/botTOKEN/sendMessage"}


def _fill(ts_ns: int) -> FillRecord:
    return FillRecord("f1", "o1", "KX-1", "bid", Price(4000), Count(1000), Money(170_000), True, ts_ns)


def _trigger(watch: AlertWatch, trigger: str, clock: ManualClock) -> str:
    """Make ``trigger`` happen; the words its alert must carry."""
    now = clock.time_ns()
    if trigger == "breaker":
        watch.on_feed(risk_event(RiskEventRecord(now, "daily_loss", "halt", "equity $950.96 at the floor")))
        return "breaker tripped: daily_loss"
    if trigger == "halt":
        watch.on_feed(risk_event(RiskEventRecord(now, "manual_halt", "halt", "operator: maintenance")))
        return "manual halt: operator: maintenance"
    if trigger == "disconnect":
        watch.on_feed(connection("Kalshi", False, now))
        clock.advance(59)
        watch.check(clock.time_ns())  # not yet: the bound is 60 s
        clock.advance(1)
        watch.check(clock.time_ns())
        watch.check(clock.time_ns())  # once per outage
        return "Kalshi stream disconnected for 60 s"
    # The daily summary: a day's fills and settlements, then the market clock passes midnight.
    watch.on_feed(order_filled(_fill(now)))
    watch.on_feed(market_settled("KX-1", "yes", Money(5_830_000), now + NS_PER_S))
    clock.set_ns(DAY_ONE + 86_400 * NS_PER_S)
    watch.check(clock.time_ns())
    return "daily summary 2026-05-13 (UTC): 1 markets settled, P&L $5.83 net of fees, 1 fills, fees $0.17"


@pytest.mark.parametrize("trigger", ["breaker", "halt", "disconnect", "daily_summary"])
@pytest.mark.parametrize("service", ["slack", "discord", "telegram"])
async def test_each_trigger_reaches_each_kind_of_webhook(
    receiver: Receiver, service: str, trigger: str
) -> None:
    clock = InstantClock(DAY_ONE + 12 * 3600 * NS_PER_S)
    notifier = WebhookNotifier([HOOKS[service](receiver.url)], clock)
    notifier.start()
    watch = AlertWatch(notifier.notify, disconnect_after_s=60, equity=lambda: Money(1_000_000_000))
    words = _trigger(watch, trigger, clock)
    await notifier.close()
    [body] = receiver.bodies[PATHS[service]]
    text = receiver.texts(PATHS[service])[0]
    assert words in text, text
    if service == "telegram":
        assert body["chat_id"] == "42"
    assert set(body) == {"slack": {"text"}, "discord": {"content"}, "telegram": {"chat_id", "text"}}[service]
    assert notifier.stats.sent == 1 and notifier.stats.failed == 0


async def test_a_reconnection_after_a_long_outage_is_told_too(receiver: Receiver) -> None:
    clock = InstantClock(DAY_ONE)
    notifier = WebhookNotifier([HOOKS["slack"](receiver.url)], clock)
    notifier.start()
    watch = AlertWatch(notifier.notify, disconnect_after_s=30)
    watch.on_feed(connection("Kalshi", False, clock.time_ns()))
    clock.advance(10)
    watch.on_feed(connection("Kalshi", True, clock.time_ns()))  # a short blip: no alert at all
    watch.on_feed(connection("Kalshi", False, clock.time_ns()))
    clock.advance(45)
    watch.check(clock.time_ns())
    watch.on_feed(connection("Kalshi", True, clock.time_ns()))
    await notifier.close()
    texts = receiver.texts(PATHS["slack"])
    assert len(texts) == 2
    assert "disconnected for 45 s" in texts[0] and "back after 45 s down" in texts[1]


async def test_server_errors_are_retried_with_growing_backoff(receiver: Receiver) -> None:
    receiver.fail_first = 3
    clock = InstantClock(DAY_ONE)
    notifier = WebhookNotifier([HOOKS["discord"](receiver.url)], clock, max_retries=4, retry_backoff_s=1.0)
    notifier.start()
    notifier.notify("kxbtc: breaker tripped: max_drawdown")
    await notifier.close()
    assert receiver.texts(PATHS["discord"]) == ["kxbtc: breaker tripped: max_drawdown"]
    assert len(clock.slept) == 3
    # Equal jitter: each wait lies in [cap/2, cap] with the cap doubling: 1, 2, 4 s.
    for attempt, waited in enumerate(clock.slept):
        assert 2**attempt / 2 <= waited <= 2**attempt


async def test_an_unreachable_webhook_never_raises_into_the_engine(receiver: Receiver) -> None:
    clock = InstantClock(DAY_ONE)
    dead = WebhookConfig(url="http://127.0.0.1:9/hook", format="slack")  # discard port: refused
    notifier = WebhookNotifier([dead, HOOKS["slack"](receiver.url)], clock, max_retries=2)
    notifier.start()
    notifier.notify("kxbtc: manual halt")
    await notifier.close()
    assert notifier.stats.failed == 1 and notifier.stats.sent == 1  # the next webhook still got it
    assert receiver.texts(PATHS["slack"]) == ["kxbtc: manual halt"]


async def test_a_full_queue_drops_the_oldest_alert_without_waiting() -> None:
    posted: list[str] = []

    async def post(url: str, body: dict[str, Any]) -> int:
        posted.append(body["text"])
        return 200

    clock = InstantClock(DAY_ONE)
    notifier = WebhookNotifier([WebhookConfig(url="http://127.0.0.1:1/x")], clock, queue_size=2, post=post)
    for n in range(4):  # nothing consumes yet: notify never blocks
        notifier.notify(f"alert {n}")
    notifier.start()
    await notifier.close()
    assert posted == ["alert 2", "alert 3"] and notifier.stats.dropped == 2


def test_alerts_config_reads_webhooks_from_toml(tmp_path: Any) -> None:
    from kxbtc.config import load_config

    path = tmp_path / "kxbtc.toml"
    path.write_text(
        "[alerts]\ndisconnect_after_s = 120\n"
        '[[alerts.webhooks]]\nurl = "https://hooks.slack.com/services/T/B/x"\n'
        '[[alerts.webhooks]]\nurl = "https://api.telegram.org/botX/sendMessage"\nformat = "telegram"\n'
        'chat_id = "-100"\n'
    )
    config = load_config(path)
    assert [h.format for h in config.alerts.webhooks] == ["slack", "telegram"]
    assert config.alerts.disconnect_after_s == 120
    assert Config().alerts == AlertsConfig()


async def test_a_real_breaker_trip_in_the_core_reaches_the_webhook(receiver: Receiver, tmp_path: Any) -> None:
    from kxbtc.alerts.watch import start_alerts
    from kxbtc.core.trading_core import TradingCore
    from kxbtc.store.db import SqliteStore

    config = Config(alerts=AlertsConfig(webhooks=(HOOKS["slack"](receiver.url),)))
    clock = ManualClock(DAY_ONE + 3600 * NS_PER_S)
    store = SqliteStore(tmp_path / "core.db")
    core = TradingCore(config, clock=clock, store=store, run_id="t", strategies=[])
    service = start_alerts(config, core, clock)
    assert service is not None
    core.account.anchor = 1_000_000_000  # $1,000 at the day's start
    core.update_equity()
    core.account.anchor = 900_000_000  # a $100 loss: past the daily loss limit
    core.update_equity()
    await service.close()
    store.close()
    [text] = receiver.texts(PATHS["slack"])
    assert text.startswith("kxbtc: breaker tripped: daily_loss: equity at exit prices $900.00"), text
    assert start_alerts(Config(), core, clock) is None  # no webhooks, no alerts
