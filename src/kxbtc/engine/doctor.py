"""``kxbtc doctor``: is this machine ready to trade? Keys, clock, connectivity, auth, shard balance."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx2

from kxbtc.clock import SystemClock
from kxbtc.config import Config
from kxbtc.errors import KxbtcError, NetworkError
from kxbtc.kalshi.rest import KalshiRestClient
from kxbtc.timesync import ClockSync, SkewGuard
from kxbtc.units import format_usd

#: BTC markets live on exchange shard 2 since 2026-08-24: collateral must be allocated there.
CRYPTO_SHARD = 2


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


async def run_checks(
    config: Config,
    rest_url: str,
    *,
    key_id: str | None,
    key_file: Path | None,
    ntp: bool = True,
) -> list[Check]:
    from kxbtc.engine.live import load_credentials, make_signer  # deferred: keys are optional here

    checks: list[Check] = [Check("config", True, "valid")]
    signer = None
    try:
        creds = load_credentials(config, key_id, key_file)
        signer = make_signer(creds)
        checks.append(Check("keys", True, f"{creds.key_id} ({signer.key_type}) from {creds.key_file}"))
    except KxbtcError as exc:
        fix = "fix: `kxbtc keys new --out DIR`, then --key-id ID --key-file PEM (or [kalshi] in the config)"
        checks.append(Check("keys", False, f"{exc} ({fix})"))

    async def fetch_date() -> str:
        try:
            async with httpx2.AsyncClient(timeout=5.0) as http:
                response = await http.get(rest_url.rstrip("/") + "/exchange/status")
                return response.headers.get("date", "")
        except (httpx2.HTTPError, OSError) as exc:  # a check reports it; it never ends in a traceback
            raise NetworkError(f"{rest_url}: {exc or type(exc).__name__}", code="unreachable") from None

    guard = SkewGuard(int(config.risk.max_clock_skew_ms), clock=SystemClock())
    sync = ClockSync(
        ntp_servers=config.clock.ntp_servers if ntp else (),
        ntp_timeout_s=config.clock.ntp_timeout_s,
        fetch_date=fetch_date,
        guard=guard,
        correct=False,
    )
    try:
        measured = await sync.measure()
        guard.update(measured, corrected=False)
        refusal = guard.refusal()
        checks.append(
            Check(
                "clock",
                refusal is None,
                refusal or f"offset {measured.offset_ms:+.0f} ms via {measured.source} ({measured.detail})",
            )
        )
    except KxbtcError as exc:
        checks.append(
            Check("clock", False, f"{exc} (fix: check the network, or --no-ntp to use the exchange's clock)")
        )

    checks += llm_key_checks(config, os.environ)

    async with KalshiRestClient(rest_url, signer, SystemClock(), max_retries=1) as rest:
        try:
            status = await rest.get_exchange_status()
            checks.append(Check("connectivity", True, f"{rest_url}: trading_active={status.trading_active}"))
        except (KxbtcError, httpx2.HTTPError, OSError) as exc:
            fix = "fix: check the network and --rest-url / --env"
            checks.append(Check("connectivity", False, f"{rest_url}: {exc or type(exc).__name__} ({fix})"))
            return checks
        if signer is None:
            checks.append(Check("auth", False, "skipped: no usable key"))
            return checks
        try:
            balance = await rest.get_balance()
        except KxbtcError as exc:
            checks.append(Check("auth", False, str(exc)))
            return checks
        checks.append(Check("auth", True, f"balance {format_usd(balance.money)}"))
        shard = balance.shard_money(CRYPTO_SHARD)
        if shard is None or shard <= 0:
            checks.append(
                Check(
                    "shard balance",
                    False,
                    f"no funds on exchange shard {CRYPTO_SHARD} (crypto):"
                    " move collateral with an intra-exchange transfer before trading BTC",
                )
            )
        else:
            checks.append(Check("shard balance", True, f"{format_usd(shard)} on shard {CRYPTO_SHARD}"))
    return checks


def llm_key_checks(config: Config, environ: Mapping[str, str]) -> list[Check]:
    """With ``[llm] enabled``: every enabled role's provider has its API key variable set (the value is
    never shown). Nothing is sent to the providers: a paid call is not a health check."""
    if not config.llm.enabled:
        return []
    missing: dict[str, list[str]] = {}
    for name, role in config.llm.roles.items():
        provider = config.llm.providers[role.provider]
        if role.enabled and provider.api_key_env and not environ.get(provider.api_key_env):
            missing.setdefault(provider.api_key_env, []).append(name)
    if not missing:
        return [Check("llm keys", True, "every enabled role's API key variable is set")]
    detail = "; ".join(
        f"{env} is not set (roles {', '.join(roles)})" for env, roles in sorted(missing.items())
    )
    return [Check("llm keys", False, detail)]
