"""The device registry: which phones each person uses, and cutting one off."""
