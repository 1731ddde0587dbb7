"""``kxbtc report``: one self-contained HTML tearsheet (and PNGs, and JSON) for any kxbtc database."""
