"""Polymarket market data: Gamma discovery, CLOB REST books, the market WebSocket, a local L2 book, and a
paper venue and live order entry through the official SDK (``sdk_venue``, the only module that imports
it) for the Polymarket leg of the cross-venue strategy."""
