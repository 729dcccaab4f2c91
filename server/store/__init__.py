"""The central store: one interface (interface.Store), SQLite behind it for now."""
