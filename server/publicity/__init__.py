"""Publicity tasks: supervisors send officers out to teach residents how the scams work."""
