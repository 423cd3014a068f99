"""The paper exchange: a simulated perpetual-futures venue around the ``matching`` engine."""
