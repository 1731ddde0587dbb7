"""``kxbtc dashboard``: a local web page over the store (see ``kxbtc.dashboard.server``)."""
