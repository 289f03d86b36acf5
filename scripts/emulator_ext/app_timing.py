"""(being written)"""


def register(app):
    return app
