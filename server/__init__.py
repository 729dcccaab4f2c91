"""The beatsync API server: warnings and publicity tasks routed to officers."""
