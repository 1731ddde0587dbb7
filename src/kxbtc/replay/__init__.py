"""Replay of recorded markets through the trading core: the same decisions the live engine would make,
with a stated fill model between the core and the recorded books."""
