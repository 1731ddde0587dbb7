"""Each strategy's ``[strategies.<name>]`` section is validated by the model that strategy registered: its
own keys are accepted (from the file and from ``KXBTC_STRATEGIES__<NAME>__<KEY>``), another strategy's
keys are refused with a message naming the strategy they belong to."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from kxbtc.config import Config, StrategyConfig, load_config
from kxbtc.errors import ConfigError
from kxbtc.strategy import KNOWN_STRATEGIES, REGISTRY, build_strategies
from kxbtc.strategy.imbalance import ImbalanceConfig, ImbalanceMomentum
from kxbtc.strategy.index_lead import IndexLeadConfig
from kxbtc.strategy.market_anchored import MarketAnchoredConfig


def _load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "kxbtc.toml"
    path.write_text(text)
    return load_config(path, environ={})


def test_each_strategy_reads_its_own_keys_into_its_own_model(tmp_path: Path) -> None:
    path = tmp_path / "kxbtc.toml"
    path.write_text(
        '[strategies.imbalance]\nimbalance_threshold = 0.8\nimbalance_levels = 5\nmin_edge = "0.03"\n'
        "[strategies.market_anchored]\nanchor_intercept = 0.1\n"
        "[strategies.index_lead]\nlead_lookback_s = 4\nlead_min_move = 0.05\n"
        "[strategies.fair_value]\nkelly_fraction = 0.5\n"
    )
    cfg = load_config(path, environ={})
    imbalance = cfg.strategies["imbalance"]
    assert isinstance(imbalance, ImbalanceConfig)
    assert (imbalance.imbalance_threshold, imbalance.imbalance_levels) == (0.8, 5)
    assert imbalance.min_edge == Decimal("0.03")
    anchored = cfg.strategies["market_anchored"]
    assert isinstance(anchored, MarketAnchoredConfig) and anchored.anchor_intercept == 0.1
    assert anchored.anchor_model_weight == 2.236  # untouched keys keep their defaults
    lead = cfg.strategies["index_lead"]
    assert isinstance(lead, IndexLeadConfig) and (lead.lead_lookback_s, lead.lead_min_move) == (4.0, 0.05)
    assert type(cfg.strategies["fair_value"]) is StrategyConfig  # the shared fields are all it has
    assert cfg.strategies["fair_value"].kelly_fraction == 0.5


@pytest.mark.parametrize(
    ("section", "key", "owner"),
    [
        ("fair_value", "imbalance_threshold = 0.8", "imbalance"),
        ("imbalance", "anchor_intercept = 0.1", "market_anchored"),
        ("market_anchored", "lead_min_move = 0.05", "index_lead"),
        ("index_lead", "imbalance_levels = 2", "imbalance"),
        ("book_glitch", "lead_lookback_s = 3", "index_lead"),
    ],
)
def test_a_key_of_another_strategy_is_refused_naming_that_strategy(
    tmp_path: Path, section: str, key: str, owner: str
) -> None:
    name = key.split(" ")[0]
    with pytest.raises(
        ConfigError, match=rf"strategies\.{section}\.{name}: a setting of {owner}, not of {section}"
    ):
        _load(tmp_path, f"[strategies.{section}]\n{key}\n")


def test_an_unknown_key_lists_what_the_strategy_takes(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, "[strategies.imbalance]\nimbalance_treshold = 0.8\n")
    message = str(caught.value)
    assert "strategies.imbalance.imbalance_treshold: not a setting of imbalance" in message
    assert "imbalance takes: enabled, kelly_fraction" in message and "imbalance_threshold" in message


def test_every_problem_is_reported_at_its_own_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(
            tmp_path,
            "[strategies.imbalance]\nimbalance_threshold = 2\n[strategies.fair_value]\nmin_edge = 5\n"
            "[strategies.moonshot]\nenabled = true\n",
        )
    lines = str(caught.value).splitlines()[1:]
    assert lines == [
        "  strategies.imbalance.imbalance_threshold: Input should be less than 1",
        "  strategies.fair_value.min_edge: Input should be less than or equal to 1",
        f"  strategies.moonshot: unknown strategy moonshot; known: {', '.join(KNOWN_STRATEGIES)}",
    ]


def test_environment_variables_reach_a_strategys_own_keys_and_are_checked_the_same_way() -> None:
    cfg = load_config(
        environ={
            "KXBTC_STRATEGIES__IMBALANCE__IMBALANCE_THRESHOLD": "0.85",
            "KXBTC_STRATEGIES__INDEX_LEAD__ENABLED": "false",
        }
    )
    imbalance = cfg.strategies["imbalance"]
    assert isinstance(imbalance, ImbalanceConfig) and imbalance.imbalance_threshold == 0.85
    assert not cfg.strategies["index_lead"].enabled
    with pytest.raises(
        ConfigError, match=r"strategies\.fair_value\.anchor_intercept: a setting of market_anc"
    ):
        load_config(environ={"KXBTC_STRATEGIES__FAIR_VALUE__ANCHOR_INTERCEPT": "0.1"})


def test_the_effective_configuration_shows_each_strategys_own_keys() -> None:
    cfg = load_config(environ={"KXBTC_STRATEGIES__IMBALANCE__IMBALANCE_LEVELS": "4"})
    dumped = json.loads(cfg.model_dump_json())["strategies"]["imbalance"]
    assert dumped["imbalance_levels"] == 4 and dumped["imbalance_threshold"] == 0.7


def test_known_strategies_and_build_strategies_come_from_the_registry() -> None:
    assert (*REGISTRY, "cross_venue") == KNOWN_STRATEGIES
    cfg = load_config(environ={"KXBTC_STRATEGIES__IMBALANCE__IMBALANCE_LEVELS": "4"})
    built = {s.name: s for s in build_strategies(cfg.strategies)}
    assert set(built) == {"imbalance"}  # a [strategies] given replaces the default selection, as before
    imbalance = built["imbalance"]
    assert isinstance(imbalance, ImbalanceMomentum) and imbalance.config.imbalance_levels == 4


def test_bare_shared_settings_get_the_strategys_own_defaults() -> None:
    """A ``model_copy`` skips validation: the registry still hands each strategy its own model."""
    [imbalance] = build_strategies({"imbalance": StrategyConfig(kelly_fraction=0.5)})
    assert isinstance(imbalance.config, ImbalanceConfig)
    assert imbalance.config.kelly_fraction == 0.5 and imbalance.config.imbalance_threshold == 0.7
