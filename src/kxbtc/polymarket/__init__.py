"""Polymarket market data: Gamma discovery, CLOB REST books, the market WebSocket, a local L2 book, and a
paper venue for the Polymarket leg of the cross-venue strategy (live order entry is not built)."""
