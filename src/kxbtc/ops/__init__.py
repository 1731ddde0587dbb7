"""Operator commands over the local SQLite store: status, positions, orders, fills, P&L, halt/resume."""
