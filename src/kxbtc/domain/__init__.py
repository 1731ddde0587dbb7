"""The trading domain: the types every room above the venue adapters speaks.

Instruments, legs and book sides, order intents and updates, fills, book and index events. Venue
adapters (``kxbtc.kalshi``, ``kxbtc.polymarket``, the simulator) translate their wire messages into
these at the edge; nothing here imports a venue package.
"""
