"""Configuration: one TOML file plus ``KXBTC_<SECTION>__<KEY>`` environment variables, validated at start.

Validation is pydantic's: every error names the offending key (``risk.daily_loss_pct``) and the allowed
range. ``load_config`` raises ``ConfigError`` with all problems listed, so ``kxbtc`` can exit with code 2.
"""

from __future__ import annotations

import os
import stat
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from kxbtc.config_env import DictFields, EnvError, env_overrides
from kxbtc.errors import ConfigError
from kxbtc.units import COUNT_SCALE, MONEY_SCALE, PRICE_SCALE, Count, Money, Price


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _strict_booleans(cls, value: Any, info: ValidationInfo) -> Any:
        """A switch is ``true`` or ``false``: pydantic alone would also take "yes", "on" or 1."""
        field = cls.model_fields.get(info.field_name or "")
        if field is not None and field.annotation is bool and not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value


class RiskConfig(_Section):
    daily_loss_pct: float = Field(
        5.0, gt=0, le=100, description="halt after losing this % of start-of-day equity"
    )
    max_drawdown_pct: float = Field(10.0, gt=0, le=100, description="halt after this % fall from peak equity")
    per_strike_pct: float = Field(20.0, gt=0, le=100, description="max % of equity at risk on one strike")
    final_freeze_s: float = Field(60.0, ge=0, le=3600, description="no new positions this close to close")
    accountability_usd: Decimal = Field(
        Decimal(25_000), gt=0, decimal_places=2, description="Kalshi per-strike position accountability"
    )
    max_order_contracts: Decimal = Field(
        Decimal(500), gt=0, decimal_places=2, description="largest single order, in contracts"
    )
    stale_data_s: float = Field(5.0, gt=0, le=600, description="halt a market whose data is older than this")
    max_clock_skew_ms: float = Field(2_000.0, gt=0, le=60_000)
    #: What the daily-loss and drawdown breakers measure (``kxbtc.risk.limits``). ``marked``: realized
    #: P&L plus open positions at the price they could be sold at now; each new order may lose at most
    #: what is left. ``worst_case``: every open position counts as already lost (far stricter: open
    #: exposure can never exceed the daily-loss budget).
    loss_basis: Literal["marked", "worst_case"] = "marked"
    # The skill guard (kxbtc.core.skill_guard): a one-sided CUSUM of each strategy's settled P&L per
    # contract against its expected edge.
    skill_guard: bool = True
    skill_guard_shortfall: float = Field(0.15, gt=0, le=1, description="$/contract below expectation")
    skill_guard_sd: float = Field(0.5, gt=0, le=1, description="per-market sd of P&L per contract")
    skill_guard_threshold: float = Field(3.0, gt=0, le=100)


class StrategyConfig(_Section):
    """The settings every strategy has. A strategy with settings of its own declares a subclass as its
    ``config_model`` (``kxbtc.strategy.base.Strategy``); its ``[strategies.<name>]`` section is validated
    against that model, so it takes the fields here plus its own and nothing else."""

    enabled: bool = True
    kelly_fraction: float = Field(0.75, gt=0, le=1)
    min_edge: Decimal = Field(
        Decimal("0.02"),
        ge=0,
        le=1,
        decimal_places=4,
        description="required edge over cost, in dollars per contract",
    )
    time_in_force: Literal["fill_or_kill", "immediate_or_cancel", "good_till_canceled"] = "fill_or_kill"
    max_contracts: Decimal = Field(Decimal(100), gt=0, decimal_places=2)
    #: Net P&L per contract its backtest showed on the reported part (docs/RESEARCH.md); the live skill
    #: guard pauses the strategy when its settled results fall clearly below it.
    expected_edge_per_contract: float = Field(0.0, ge=-1, le=1)


class KalshiConfig(_Section):
    env: Literal["sim", "demo", "prod"] = "sim"
    key_id: str = ""
    key_file: Path | None = None
    rest_url: str = ""
    ws_url: str = ""


class EngineConfig(_Section):
    #: Orders found resting on the exchange at start that this run did not place: cancel them (the safe
    #: default after a crash) or adopt them (they stay, and count against the limits like our own).
    on_start_resting: Literal["cancel", "adopt"] = "cancel"
    #: ``auto``: trade only when an enabled strategy has a measured edge after fees on real markets
    #: (``expected_edge_per_contract > 0``), else observe: the strategies run and their decisions are
    #: recorded, nothing is sent. ``on`` trades whatever is enabled; ``off`` always observes.
    trading: Literal["auto", "on", "off"] = "auto"
    #: The index the core trades on: Kalshi's ``cfbenchmarks_value`` prints, or our BRTI estimate from the
    #: spot venues' books (``kxbtc.engine.index_feed``; it needs the venues' public websockets).
    index: Literal["kalshi", "estimate"] = "kalshi"
    #: Venues the estimate is built from. Empty: all four with ``index = "estimate"``, none otherwise; list
    #: some with ``index = "kalshi"`` to watch the estimate's gap to Kalshi (``kxbtc status``) untraded.
    estimate_venues: tuple[Literal["bitstamp", "coinbase", "gemini", "kraken"], ...] = ()


class ClockConfig(_Section):
    ntp_servers: tuple[str, ...] = ("time.cloudflare.com", "pool.ntp.org", "time.google.com")
    ntp_timeout_s: float = Field(2.0, gt=0, le=30)


class StoreConfig(_Section):
    path: Path = Path("kxbtc.db")


#: The ensemble's roles; each has its own system prompt in ``kxbtc.llm.roles``.
LLM_ROLES = ("lead", "news", "bull", "bear", "risk")

_DEFAULT_LLM_PROVIDERS: dict[str, dict[str, Any]] = {
    "xai": {"kind": "openai", "base_url": "https://api.x.ai/v1", "api_key_env": "XAI_API_KEY"},
    "anthropic": {
        "kind": "anthropic",
        "base_url": "https://api.anthropic.com",
        "api_key_env": "ANTHROPIC_API_KEY",
    },
    "openai": {"kind": "openai", "base_url": "https://api.openai.com/v1", "api_key_env": "OPENAI_API_KEY"},
    "gemini": {
        "kind": "openai",
        "base_url": "https://generativelanguage.googleapis.com/v1beta/openai/",
        "api_key_env": "GEMINI_API_KEY",
        "token_limit_param": "max_tokens",
    },
    "deepseek": {
        "kind": "openai",
        "base_url": "https://api.deepseek.com",
        "api_key_env": "DEEPSEEK_API_KEY",
        "json_mode": "json_object",
        "token_limit_param": "max_tokens",
    },
}
# The brief's split: lead 30%, news 20%, bull and bear 17.5% each, risk 15%.
_DEFAULT_LLM_ROLES: dict[str, dict[str, Any]] = {
    "lead": {"provider": "xai", "model": "grok-4-latest", "weight": 0.30},
    "news": {"provider": "anthropic", "model": "claude-sonnet-5-5", "weight": 0.20},
    "bull": {"provider": "openai", "model": "gpt-5.5", "weight": 0.175},
    "bear": {"provider": "gemini", "model": "gemini-flash-latest", "weight": 0.175},
    "risk": {"provider": "deepseek", "model": "deepseek-reasoner", "weight": 0.15},
}


class LlmProviderConfig(_Section):
    """One API endpoint. ``kind`` is its wire protocol: OpenAI chat completions or Anthropic messages."""

    kind: Literal["openai", "anthropic"]
    base_url: str = Field(min_length=1)
    #: Name of the environment variable holding the key ("" for a local server that needs none).
    api_key_env: str = Field("", pattern=r"^([A-Z_][A-Z0-9_]*)?$")
    #: How to ask for JSON: a strict schema, plain JSON mode, or only the prompt.
    json_mode: Literal["json_schema", "json_object", "none"] = "json_schema"
    token_limit_param: Literal["max_completion_tokens", "max_tokens"] = "max_completion_tokens"
    timeout_s: float = Field(30.0, gt=0, le=600)
    max_retries: int = Field(1, ge=0, le=5, description="retries on network errors, timeouts, 429 and 5xx")
    retry_backoff_s: float = Field(1.0, ge=0, le=60)


class LlmRoleConfig(_Section):
    provider: str
    model: str = Field(min_length=1)
    weight: float = Field(ge=0, le=1_000)
    enabled: bool = True
    max_output_tokens: int = Field(2_000, ge=64, le=64_000)


class LlmPrice(_Section):
    """Dollars per million tokens."""

    input_usd_per_mtok: Decimal = Field(ge=0, decimal_places=6)
    output_usd_per_mtok: Decimal = Field(ge=0, decimal_places=6)


class LlmSourceConfig(_Section):
    """One text source shown to some roles as untrusted evidence (``kxbtc.llm.evidence``).

    ``rss``: an RSS or Atom feed at ``url``. ``json``: a JSON document at ``url`` whose list of items is at
    ``items_path`` (dot-separated keys, "" for a top-level list). ``calendar``: macro releases, a JSON list of
    ``{"time": ISO-8601, "event": ..., "importance": ...}`` from ``path`` or ``url``. ``x``: X's recent
    search for ``query``, used only when the bearer token in ``api_key_env`` is set.
    """

    kind: Literal["rss", "json", "calendar", "x"]
    url: str = ""
    path: Path | None = None
    #: Roles that see this source; empty: every role.
    roles: tuple[str, ...] = ()
    ttl_s: float = Field(300.0, gt=0, le=86_400, description="refetch at most this often")
    timeout_s: float = Field(10.0, gt=0, le=120)
    max_items: int = Field(8, ge=1, le=100)
    max_item_chars: int = Field(400, ge=40, le=4_000, description="each item's text is cut to this")
    items_path: str = ""
    title_field: str = "title"
    text_field: str = "summary"
    time_field: str = "published"
    query: str = "bitcoin -is:retweet lang:en"
    api_key_env: str = Field("", pattern=r"^([A-Z_][A-Z0-9_]*)?$")
    #: Calendar: show releases this many hours ahead (and an hour back).
    horizon_h: float = Field(24.0, gt=0, le=720)

    @model_validator(mode="after")
    def _has_location(self) -> LlmSourceConfig:
        if self.kind == "calendar" and not (self.url or self.path):
            raise ValueError("a calendar source needs url or path")
        if self.kind in ("rss", "json") and not self.url:
            raise ValueError(f"a {self.kind} source needs url")
        if self.kind == "x" and not self.api_key_env:
            raise ValueError("an x source needs api_key_env (the bearer token's variable)")
        return self


def _over_defaults(value: Any, defaults: dict[str, dict[str, Any]]) -> Any:
    """Entries given in the file or environment are laid over the defaults, key by key."""
    if not isinstance(value, dict):
        return value
    merged: dict[str, Any] = {name: dict(entry) for name, entry in defaults.items()}
    for name, entry in value.items():
        merged[name] = {**merged.get(name, {}), **entry} if isinstance(entry, dict) else entry
    return merged


class LlmConfig(_Section):
    """The multi-LLM forecast ensemble (a slow loop feeding probability priors to the strategies)."""

    enabled: bool = False
    providers: dict[str, LlmProviderConfig] = Field(
        default_factory=lambda: {n: LlmProviderConfig(**e) for n, e in _DEFAULT_LLM_PROVIDERS.items()}
    )
    roles: dict[str, LlmRoleConfig] = Field(
        default_factory=lambda: {n: LlmRoleConfig(**e) for n, e in _DEFAULT_LLM_ROLES.items()}
    )
    #: Model name -> token prices; a model missing here is recorded at cost 0.
    prices: dict[str, LlmPrice] = Field(default_factory=dict)
    deadline_s: float = Field(60.0, gt=0, le=600, description="the whole ensemble's time budget per market")
    interval_s: float = Field(120.0, gt=0, le=86_400, description="how often the priors are refreshed")
    max_age_s: float = Field(300.0, gt=0, le=86_400, description="a prior older than this stops counting")
    blend_weight: float = Field(0.1, ge=0, le=1, description="weight of a fully confident prior")
    min_weight: float = Field(0.5, ge=0, le=1, description="share of the role weight that must answer")
    max_markets: int = Field(3, ge=1, le=100, description="markets forecast per refresh, nearest 50/50 first")
    #: Spend guards: once either is reached the ensemble is not asked again until 00:00 UTC.
    daily_budget_usd: Decimal = Field(
        Decimal(10), ge=0, le=100_000, decimal_places=6, description="LLM spend per UTC day (priced models)"
    )
    max_calls_per_day: int = Field(5_000, ge=0, le=1_000_000, description="LLM calls per UTC day, all roles")
    #: Text sources (news, calendar, social) by name; none by default.
    sources: dict[str, LlmSourceConfig] = Field(default_factory=dict)
    evidence_max_chars: int = Field(
        4_000, ge=0, le=100_000, description="per role: evidence text beyond this is cut (newest kept)"
    )

    @field_validator("providers", mode="before")
    @classmethod
    def _providers_over_defaults(cls, value: Any) -> Any:
        return _over_defaults(value, _DEFAULT_LLM_PROVIDERS)

    @field_validator("roles", mode="before")
    @classmethod
    def _roles_over_defaults(cls, value: Any) -> Any:
        return _over_defaults(value, _DEFAULT_LLM_ROLES)

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, value: dict[str, LlmRoleConfig]) -> dict[str, LlmRoleConfig]:
        unknown = sorted(set(value) - set(LLM_ROLES))
        if unknown:
            raise ValueError(f"unknown role {', '.join(unknown)}; known: {', '.join(LLM_ROLES)}")
        if sum(role.weight for role in value.values() if role.enabled) <= 0:
            raise ValueError("the enabled roles' weights must sum to more than 0")
        return value

    @field_validator("sources")
    @classmethod
    def _sources_name_roles(cls, value: dict[str, LlmSourceConfig]) -> dict[str, LlmSourceConfig]:
        for name, source in value.items():
            unknown = sorted(set(source.roles) - set(LLM_ROLES))
            if unknown:
                raise ValueError(f"sources.{name}.roles: unknown role {', '.join(unknown)}")
        return value

    @model_validator(mode="after")
    def _roles_name_providers(self) -> LlmConfig:
        for name, role in self.roles.items():
            if role.provider not in self.providers:
                raise ValueError(
                    f"roles.{name}.provider: {role.provider!r} is not a configured provider"
                    f" (known: {', '.join(sorted(self.providers))})"
                )
        return self


class PolymarketConfig(_Section):
    """Polymarket market data and the cross-venue (Kalshi vs Polymarket) basis trade. Off by default."""

    enabled: bool = False
    gamma_url: str = "https://gamma-api.polymarket.com"
    clob_url: str = "https://clob.polymarket.com"
    ws_url: str = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
    min_edge: Decimal = Field(
        Decimal("0.01"), ge=0, le=1, decimal_places=4, description="required edge per pair after fees, $"
    )
    basis_margin: Decimal = Field(
        Decimal("0.02"),
        ge=0,
        le=1,
        decimal_places=4,
        description="extra edge per pair for the settlement basis (BRTI 60 s average vs Chainlink point), $",
    )
    max_pair_contracts: Decimal = Field(Decimal(50), gt=0, decimal_places=0, description="largest pair size")
    max_book_age_s: float = Field(5.0, gt=0, le=600, description="skip a Polymarket book older than this")
    ping_interval_s: float = Field(10.0, gt=0, le=60)
    #: Where the Polymarket legs go: ``paper`` fills against the mirrored books; ``live`` signs and posts
    #: them through the official SDK (README, "Polymarket live orders"; needs the ``polymarket`` extra).
    venue: Literal["paper", "live"] = "paper"
    relayer_url: str = "https://relayer-v2.polymarket.com"
    #: ``GET <geoblock_url>/api/geoblock``: checked at start; a blocked location runs read-only.
    geoblock_url: str = "https://polymarket.com"
    #: The deposit wallet orders are made by (maker = signer). Empty: the SDK derives the key's own.
    wallet: str = ""
    #: Names of the environment variables holding the secrets (never the secrets themselves).
    private_key_env: str = "KXBTC_POLY_PRIVATE_KEY"
    api_key_env: str = "KXBTC_POLY_API_KEY"
    api_secret_env: str = "KXBTC_POLY_API_SECRET"
    api_passphrase_env: str = "KXBTC_POLY_API_PASSPHRASE"
    #: When a pair's Polymarket leg fails: ``hedge`` retries it at worse prices, then sells the Kalshi leg
    #: back if no retry fills; ``unwind`` sells the Kalshi leg back at once. A filled Polymarket leg whose
    #: Kalshi leg failed is always sold back (a Kalshi retry would chase the price: the desk does not).
    leg_failure: Literal["hedge", "unwind"] = "hedge"
    max_leg_loss: Decimal = Field(
        Decimal("0.03"),
        ge=0,
        le=1,
        decimal_places=4,
        description="worst price per contract a repair may give up against the quote or the fill, $",
    )
    repair_attempts: int = Field(3, ge=1, le=20, description="FOK attempts of a hedge or unwind")


class WebhookConfig(_Section):
    """One alert destination. ``telegram`` posts ``sendMessage`` (``url`` ends in ``/sendMessage``)."""

    url: str = Field(pattern=r"^https?://", description="the webhook URL (a secret: never logged)")
    format: Literal["slack", "discord", "telegram"] = "slack"
    chat_id: str = Field("", description="telegram: the chat to post to")

    @model_validator(mode="after")
    def _telegram_needs_chat(self) -> WebhookConfig:
        if self.format == "telegram" and not self.chat_id:
            raise ValueError("a telegram webhook needs chat_id")
        return self


class AlertsConfig(_Section):
    """``[alerts]``: webhooks told of breaker trips, halts, long disconnections and each day's summary."""

    webhooks: tuple[WebhookConfig, ...] = ()
    disconnect_after_s: float = Field(60.0, gt=0, le=86_400, description="alert once down this long")
    daily_summary: bool = True
    timeout_s: float = Field(5.0, gt=0, le=60)
    max_retries: int = Field(4, ge=0, le=10, description="retries on network errors, 429 and 5xx")
    retry_backoff_s: float = Field(2.0, ge=0, le=300)
    queue_size: int = Field(100, ge=1, le=10_000, description="alerts waiting beyond this drop the oldest")


class Config(_Section):
    risk: RiskConfig = RiskConfig()
    #: Each section typed by its strategy's own model (serialized as that model, not as the base).
    strategies: dict[str, SerializeAsAny[StrategyConfig]] = Field(
        default_factory=lambda: {"fair_value": StrategyConfig(), "book_glitch": StrategyConfig()}
    )
    kalshi: KalshiConfig = KalshiConfig()
    engine: EngineConfig = EngineConfig()
    clock: ClockConfig = ClockConfig()
    store: StoreConfig = StoreConfig()
    llm: LlmConfig = LlmConfig()
    polymarket: PolymarketConfig = PolymarketConfig()
    alerts: AlertsConfig = AlertsConfig()

    @field_validator("strategies", mode="before")
    @classmethod
    def _typed_sections(cls, value: Any) -> Any:
        """Each section validated by the model its strategy registered (``kxbtc.strategy.registry``).

        Imported here, not at the top: the strategies import this module for ``StrategyConfig``, and the
        registry is only needed once a configuration is validated, long after both are loaded.
        """
        from kxbtc.strategy.registry import strategy_sections

        return strategy_sections(value)

    @model_validator(mode="after")
    def _cross_venue_needs_polymarket(self) -> Config:
        cross_venue = self.strategies.get("cross_venue")
        if cross_venue is not None and cross_venue.enabled and not self.polymarket.enabled:
            raise ValueError(
                "strategies.cross_venue is enabled but polymarket.enabled is false: the cross-venue"
                " strategy trades against Polymarket's books; set polymarket.enabled = true or disable it"
            )
        return self


def to_money(value: Decimal) -> Money:
    return Money(int(value * MONEY_SCALE))


def to_count(value: Decimal) -> Count:
    return Count(int(value * COUNT_SCALE))


def to_price(value: Decimal) -> Price:
    return Price(int(value * PRICE_SCALE))


def _dict_fields() -> DictFields:
    """Default entry names and models of the configuration's ``dict`` fields, for the variable checks."""
    from kxbtc.strategy.registry import config_models  # see Config._typed_sections for why it is here

    models = config_models()
    return {
        "strategies": (tuple(models), models.get),
        "providers": (tuple(_DEFAULT_LLM_PROVIDERS), lambda _: None),
        "roles": (LLM_ROLES, lambda _: None),
    }


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _format_errors(source: str, exc: ValidationError) -> str:
    lines = [f"invalid configuration ({source}):"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        lines.append(f"  {key}: {err['msg']}")
    return "\n".join(lines)


#: A configuration file is a few kilobytes; this bound refuses a wrong file (a log, /dev/zero) quickly.
MAX_CONFIG_BYTES = 1 << 20


def _read_config_file(path: Path) -> dict[str, Any]:
    """The TOML document at ``path``; every failure is a one-line ``ConfigError``."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below as not a regular file.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConfigError(f"{path}: not a regular file")
        try:
            raw = file.read(MAX_CONFIG_BYTES + 1)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: config file larger than {MAX_CONFIG_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def load_config(path: Path | None = None, environ: dict[str, str] | None = None) -> Config:
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        data = _read_config_file(path)
    try:
        overrides = env_overrides(dict(os.environ if environ is None else environ), Config, _dict_fields())
    except EnvError as exc:
        raise ConfigError(str(exc)) from None
    data = _merge(data, overrides)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(source, exc)) from None
    except (RecursionError, OverflowError, ValueError) as exc:  # pragma: no cover - pydantic wraps most
        raise ConfigError(f"invalid configuration ({source}): {type(exc).__name__}") from None
