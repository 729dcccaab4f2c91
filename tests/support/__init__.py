"""Helpers shared by the stories: a tiny city, logins, warnings to send."""
