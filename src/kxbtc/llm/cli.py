"""``kxbtc llm``: the ensemble from the command line. All three run whether or not ``llm.enabled`` is set
(that switch is for the engine's slow loop).

- ``forecast``: run the configured ensemble once on a market described on the command line. Exit 0 a
  blended prior; 1 too little weight answered (no prior); 2 a bad option or configuration.
- ``check``: call each configured provider once (latency, a schema-valid answer, cost) and fetch each
  evidence source once. Exit 0 all valid; 1 a provider or source failed; 2 bad configuration.
- ``scores``: each role's Brier score and log loss on settled markets, from a database. Exit 0; 2 when
  the database cannot be read.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from kxbtc.cli_support import load_config_or_exit
from kxbtc.clock import SystemClock
from kxbtc.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from kxbtc.llm.check import ProviderCheck, SourceCheck, check_providers, check_sources
from kxbtc.llm.ensemble import Ensemble, EnsembleResult
from kxbtc.llm.providers import build_providers
from kxbtc.llm.schemas import ForecastRequest, StrikeType
from kxbtc.llm.scores import role_scores
from kxbtc.units import format_fixed, format_usd_exact

MONEY_DECIMALS = 6  # Money is micro-dollars
_STRIKE_TYPES: tuple[StrikeType, ...] = ("greater", "greater_or_equal", "less", "less_or_equal", "between")


@click.group("llm")
def llm() -> None:
    """The multi-LLM forecast ensemble."""


@llm.command("forecast")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None, help="TOML config.")
@click.option("--ticker", required=True, help="Market ticker.")
@click.option("--spot", type=click.FloatRange(min=0, min_open=True), required=True, help="Index, dollars.")
@click.option("--strike", type=click.FloatRange(min=0, min_open=True), required=True, help="Strike, dollars.")
@click.option("--strike-type", type=click.Choice(_STRIKE_TYPES), default="greater", show_default=True)
@click.option(
    "--cap-strike", type=click.FloatRange(min=0, min_open=True), default=None, help="For 'between'."
)
@click.option("--seconds-to-close", type=click.FloatRange(min=0, min_open=True), required=True)
@click.option("--model-prob", type=click.FloatRange(0, 1), default=None, help="The quant model's P(YES).")
@click.option("--vol", type=click.FloatRange(min=0), default=None, help="Realised vol, annualised fraction.")
@click.option("--mid", type=click.FloatRange(0, 1), default=None, help="Book YES mid, dollars.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def forecast(
    config_path: Path | None,
    ticker: str,
    spot: float,
    strike: float,
    strike_type: StrikeType,
    cap_strike: float | None,
    seconds_to_close: float,
    model_prob: float | None,
    vol: float | None,
    mid: float | None,
    as_json: bool,
) -> None:
    """Ask every configured role about one market and print each answer and the blend."""
    config = load_config_or_exit(config_path)
    if strike_type == "between" and cap_strike is None:
        click.echo("error: --strike-type between needs --cap-strike", err=True)
        sys.exit(EXIT_USAGE)
    clock = SystemClock()
    request = ForecastRequest(
        ticker=ticker,
        strike=strike,
        strike_type=strike_type,
        cap_strike=cap_strike,
        close_time=datetime.now(UTC) + timedelta(seconds=seconds_to_close),
        seconds_to_close=seconds_to_close,
        spot=spot,
        model_probability=model_prob,
        realized_vol=vol,
        book_mid=mid,
    )

    async def run() -> EnsembleResult:
        ensemble = Ensemble(config.llm, build_providers(config.llm, clock), clock)
        try:
            return await ensemble.forecast(request)
        finally:
            await ensemble.aclose()

    result = asyncio.run(run())
    if as_json:
        click.echo(json.dumps(result_json(result), indent=2))
    else:
        _print_text(result, config.llm.min_weight)
    sys.exit(EXIT_OK if result.probability is not None else EXIT_FAILURE)


def _dollars(micro: int) -> str:
    """A call's cost: cents, more places only when it is a fraction of a cent (``$0.0031``)."""
    return format_usd_exact(micro)


def result_json(result: EnsembleResult) -> dict[str, Any]:
    return {
        "ticker": result.ticker,
        "probability": result.probability,
        "confidence": result.blend.confidence,
        "spread": result.blend.spread,
        "agreement": result.blend.agreement,
        "surviving_weight": result.blend.surviving_weight,
        "roles": [
            {
                "role": r.role,
                "provider": r.provider,
                "model": r.model,
                "weight": r.weight,
                "ok": r.ok,
                "probability": r.forecast.probability if r.forecast else None,
                "confidence": r.forecast.confidence if r.forecast else None,
                "rationale": r.forecast.rationale if r.forecast else None,
                "key_drivers": list(r.forecast.key_drivers) if r.forecast else [],
                "error": r.error,
                "latency_ms": r.latency_ms,
                "cost_usd": format_fixed(r.cost, MONEY_DECIMALS),
            }
            for r in result.roles
        ],
    }


def _print_text(result: EnsembleResult, min_weight: float) -> None:
    click.echo(f"{result.ticker}: {len(result.roles)} roles asked")
    for r in result.roles:
        head = f"  {r.role:<5} {r.provider}/{r.model} (weight {r.weight:g})"
        tail = f"{r.latency_ms} ms, {_dollars(r.cost)}"
        if r.forecast is None:
            click.echo(f"{head}: FAILED ({tail}): {r.error}")
            continue
        click.echo(
            f"{head}: P(YES)={r.forecast.probability:.4f} confidence={r.forecast.confidence:.2f} ({tail})"
        )
        click.echo(f"        {r.forecast.rationale}")
        if r.forecast.key_drivers:
            click.echo(f"        drivers: {'; '.join(r.forecast.key_drivers)}")
    b = result.blend
    if b.probability is None:
        click.echo(
            f"blend: no prior: {b.surviving_weight:.0%} of the weight answered, {min_weight:.0%} needed"
        )
        return
    click.echo(
        f"blend: P(YES)={b.probability:.4f} confidence={b.confidence:.3f} agreement={b.agreement:.3f}"
        f" spread={b.spread:.4f} weight answered={b.surviving_weight:.0%}"
    )


@llm.command("check")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None, help="TOML config.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def check(config_path: Path | None, as_json: bool) -> None:
    """Call each configured provider once and fetch each evidence source once."""
    config = load_config_or_exit(config_path)
    clock = SystemClock()

    async def run() -> tuple[list[ProviderCheck], list[SourceCheck]]:
        return await check_providers(config.llm, clock), await check_sources(config.llm, clock)

    providers, sources = asyncio.run(run())
    failed = [p for p in providers if not p.valid] + [s for s in sources if s.error]
    if as_json:
        payload = {
            "providers": [
                {
                    "provider": p.provider,
                    "kind": p.kind,
                    "model": p.model,
                    "role": p.role,
                    "latency_ms": p.latency_ms,
                    "valid": p.valid,
                    "cost_usd": format_fixed(p.cost, MONEY_DECIMALS),
                    "error": p.error,
                }
                for p in providers
            ],
            "sources": [
                {"source": s.source, "kind": s.kind, "items": s.items, "error": s.error} for s in sources
            ],
            "ok": not failed,
        }
        click.echo(json.dumps(payload, indent=2))
    else:
        for p in providers:
            verdict = "OK  " if p.valid else "FAIL"
            cost = format_usd_exact(p.cost)  # most calls cost under a cent: sub-cent places stay
            line = f"{verdict} {p.provider} ({p.kind}, {p.model}): {p.latency_ms} ms, cost {cost}"
            click.echo(line + (f": {p.error}" if p.error else ", valid forecast"))
        for src in sources:
            verdict = "FAIL" if src.error else "OK  "
            click.echo(
                f"{verdict} source {src.source} ({src.kind}): {src.items} items"
                + (f": {src.error}" if src.error else "")
            )
        if not providers:
            click.echo("no provider is used by an enabled role")
    sys.exit(EXIT_FAILURE if failed else EXIT_OK)


@llm.command("scores")
@click.option(
    "--db",
    "db",
    type=click.Path(path_type=Path),
    envvar="KXBTC_STORE__PATH",
    default=Path("kxbtc.db"),
    show_default=True,
    help="The store's SQLite file (env KXBTC_STORE__PATH).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def scores(db: Path, as_json: bool) -> None:
    """Each role's Brier score and log loss on settled markets, beside the quant model's."""
    from contextlib import closing

    from kxbtc.ops.queries import DatabaseUnusable, open_readonly

    try:
        with closing(open_readonly(db)) as conn:
            rows = role_scores(conn)
    except DatabaseUnusable as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    if as_json:
        click.echo(json.dumps({"db": str(db), "scores": [r.as_json() for r in rows]}, indent=2))
        return
    click.echo(f"{'role':<6} {'answers':>7} {'markets':>7} {'Brier':>7} {'log loss':>8}")
    for r in rows:
        click.echo(f"{r.role:<6} {r.answers:>7} {r.markets:>7} {_num(r.brier):>7} {_num(r.log_loss):>8}")
    if all(r.answers == 0 for r in rows):
        click.echo("no rows: no valid LLM answer about a settled market in this database")
    else:
        click.echo(
            "lower is better; 'model': the quantitative model on the same rounds (always 0.5: 0.2500, 0.6931)"
        )


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
