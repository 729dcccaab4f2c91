"""Sync conflicts and rejected mutations: kept on record, reviewed and resolved by people."""
