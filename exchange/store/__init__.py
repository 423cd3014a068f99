"""Persistence: the command journal (written before acknowledgement), snapshots, recovery."""
