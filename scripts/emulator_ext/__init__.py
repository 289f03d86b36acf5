"""Project extensions to the moto emulator, loaded by scripts/emulator.py before it serves.

Work around the emulator's known gaps here, never in the provider's code paths that real AWS
would take. Each extension module exposes ``register(app)``; it may patch moto's backends, and
may return a WSGI application wrapping ``app`` (returning None keeps ``app``).
"""


def register(app):
    """Called once with moto's WSGI application before the server starts. Nothing yet."""
    return app
