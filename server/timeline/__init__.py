"""A warning's timeline: every recorded event about it, in time order."""
