"""Public market history for research and replay: ``kxbtc history fetch`` and the SQLite file it fills.

- ``rows``: the stored rows and their making from wire messages (integers at the wire's precision);
- ``db``: the SQLite file, with pages and progress committed together;
- ``spot``: Coinbase Exchange's one-minute BTC-USD candles;
- ``fetcher``: the walk over markets, candles, trades and spot candles, resumable;
- ``cli``: the command.

The Kalshi endpoints are in ``kxbtc.kalshi.history``, the paced, retrying HTTP in ``kxbtc.json_http``.
"""
