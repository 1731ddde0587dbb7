"""The one list of strategies. Config validation, ``KNOWN_STRATEGIES`` and ``build_strategies`` all read it.

A strategy declares its name, its settings model and its signals on its class (``Strategy``); adding one
is its module plus its line in ``REGISTRY``. The cross-venue pair is the one strategy the core does not
run (the engine's cross-venue desk does): only its settings are registered, in ``DESK_STRATEGIES``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from kxbtc.config import StrategyConfig
from kxbtc.strategy.base import Strategy
from kxbtc.strategy.book_glitch import BookGlitch
from kxbtc.strategy.fair_value_edge import FairValueEdge
from kxbtc.strategy.imbalance import ImbalanceMomentum
from kxbtc.strategy.index_lead import IndexLead
from kxbtc.strategy.market_anchored import MarketAnchored
from kxbtc.strategy.passive_quote import PassiveQuote
from kxbtc.strategy.settlement_window import SettlementWindow
from kxbtc.strategy.signals import PROVIDERS


def _by_name(*classes: type[Strategy]) -> dict[str, type[Strategy]]:
    """The classes by name, refusing at import what would otherwise fail later: a name used twice, or a
    signal no provider computes."""
    out: dict[str, type[Strategy]] = {}
    for cls in classes:
        if not cls.name or cls.name in out:
            raise ValueError(f"strategy {cls.__name__}: name {cls.name!r} is empty or already registered")
        unknown = sorted(set(cls.signals) - set(PROVIDERS))
        if unknown:
            raise ValueError(f"strategy {cls.name}: unknown signal {', '.join(unknown)}")
        out[cls.name] = cls
    return out


#: Every strategy the core runs, by name.
REGISTRY: dict[str, type[Strategy]] = _by_name(
    FairValueEdge, MarketAnchored, IndexLead, ImbalanceMomentum, BookGlitch, SettlementWindow, PassiveQuote
)

#: Strategies with a ``[strategies.<name>]`` section that something other than the core runs.
DESK_STRATEGIES: dict[str, type[StrategyConfig]] = {
    "cross_venue": StrategyConfig,  # engine/cross_venue.py; only ``enabled`` is read
}


def config_models() -> dict[str, type[StrategyConfig]]:
    """Each known strategy's settings model, read from the registry as it is now (a test may add one)."""
    return {**{name: cls.config_model for name, cls in REGISTRY.items()}, **DESK_STRATEGIES}


#: Strategies the engine knows, for the command line's choices; a config naming anything else is
#: rejected at start.
KNOWN_STRATEGIES: tuple[str, ...] = tuple(config_models())


def default_config(name: str) -> StrategyConfig:
    """The settings of strategy ``name`` when its section is absent: its own model's defaults."""
    return config_models()[name]()


def build_strategies(configs: Mapping[str, StrategyConfig]) -> list[Strategy]:
    """Instantiate the enabled strategies the core runs; names were validated by the config loader."""
    return [
        cls(_as_model(cls.config_model, cfg))
        for name, cfg in configs.items()
        if cfg.enabled and (cls := REGISTRY.get(name)) is not None
    ]


def _as_model(model: type[StrategyConfig], config: StrategyConfig) -> StrategyConfig:
    """``config`` as ``model``: settings built as the bare ``StrategyConfig`` (a test, a ``model_copy``
    that skipped validation) get the strategy's own fields at their defaults."""
    return config if isinstance(config, model) else model.model_validate(config.model_dump())


def strategy_sections(value: Any) -> Any:
    """``[strategies]`` validated section by section against each strategy's own model.

    Unknown strategies and unknown keys are refused with what would be accepted; a key that belongs to
    another strategy says which. Errors are raised together, each located at its key
    (``strategies.<name>.<key>``), as ``load_config`` reports them.
    """
    if not isinstance(value, Mapping):
        return value  # pydantic's own "should be a valid dictionary"
    models = config_models()
    errors: list[InitErrorDetails] = []
    out: dict[str, Any] = {}
    for name, section in value.items():
        model = models.get(name)
        if model is None:
            errors.append(_error((name,), section, f"unknown strategy {name}; known: {', '.join(models)}"))
        else:
            try:
                given = isinstance(section, StrategyConfig)
                out[name] = _as_model(model, section) if given else model.model_validate(section)
            except ValidationError as exc:
                errors += [_located(name, model, err, models) for err in exc.errors()]
    if errors:
        raise ValidationError.from_exception_data("strategies", errors)
    return out


def _located(
    name: str, model: type[StrategyConfig], err: ErrorDetails, models: Mapping[str, type[StrategyConfig]]
) -> InitErrorDetails:
    """One error of section ``name`` at its key; a key the model does not have names its owners."""
    loc = (name, *err["loc"])
    if err["type"] != "extra_forbidden":
        return _error(loc, err["input"], err["msg"], err["type"])
    key = str(err["loc"][-1])
    owners = [other for other, m in models.items() if key in m.model_fields]
    whose = f"a setting of {', '.join(owners)}, not of {name}" if owners else f"not a setting of {name}"
    return _error(loc, err["input"], f"{whose}; {name} takes: {', '.join(model.model_fields)}")


def _error(
    loc: tuple[str | int, ...], given: Any, message: str, kind: str = "strategy_settings"
) -> InitErrorDetails:
    # The message goes in as data, not as the template: braces in a key or a value stay as they are.
    return {"type": PydanticCustomError(kind, "{message}", {"message": message}), "loc": loc, "input": given}
