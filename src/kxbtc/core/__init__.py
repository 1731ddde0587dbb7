"""The trading core: one event processor that makes every trading decision, live, on paper, in the
demo and in every backtest. It does no I/O of its own: events go in (``kxbtc.domain.events``),
commands come out (``kxbtc.core.commands``), and records go to an injected store."""
