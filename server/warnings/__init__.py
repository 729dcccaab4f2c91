"""Warning instructions (预警指令): ingest from the platform, routing, supervision."""
