"""The exchange server: FastAPI REST and websocket APIs around one sequencer.

``runtime.Exchange`` holds the venue and everything the shell runs beside it (feeds, agents,
projections, keys); ``app.create_app`` serves it.
"""
