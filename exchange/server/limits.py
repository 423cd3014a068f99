"""The server's default request limits, per API key and per client IP.

In a module of their own, importing nothing, so that ``paper-exchange --help`` can show them
without loading the server (FastAPI, the venue).
"""

RATE_PER_S = 50  # requests a second
BURST = 100  # requests at once above the rate
