"""The audit log: every change of state, hash-chained, read by supervisors."""
