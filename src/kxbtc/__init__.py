"""kxbtc: an autonomous trading system for Kalshi's Bitcoin prediction markets."""

__version__ = "0.1.0"
