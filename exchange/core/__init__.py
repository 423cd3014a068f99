"""The venue's deterministic core: no I/O, no clock, no randomness; time and prices arrive on
commands."""
