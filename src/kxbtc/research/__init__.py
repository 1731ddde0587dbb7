"""Research on recorded data: scoring forecasts against the market."""
