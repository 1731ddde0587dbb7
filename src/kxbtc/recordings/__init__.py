"""Recorded market data, whatever wrote it: one time-ordered stream of raw Kalshi frames, spot trades
and market definitions with results, for replays and forecast scoring."""
