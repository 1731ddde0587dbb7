"""Running the trading core against the simulator in one process, on one simulated clock.

``network`` models the wire between them (latency each way with jitter, loss), ``sim_venue`` is the
simulator's adapter (exchange events in, domain events out; commands in, exchange calls out) and
``runner`` is the discrete-event loop that drives both: no sleeping, no threads, the same seed gives the
same run byte for byte, whatever the machine's speed.
"""
