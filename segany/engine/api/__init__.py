"""The data engine's HTTP API (mounted under /api/engine/ on the `segany serve` app)."""
