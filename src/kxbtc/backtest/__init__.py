"""Deterministic in-process backtests: the simulated exchange stepped second by second on a ManualClock."""
