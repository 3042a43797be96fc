"""Outage detection and alert routing. `model`, `evaluator` and `router` are
pure (no asyncio, grpc, aiohttp or prometheus_client); `notifiers/` are the
edges that talk to on-call systems."""
