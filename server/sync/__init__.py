"""Offline sync over HTTP: pull a device's scope, push what it recorded, conflicts."""
