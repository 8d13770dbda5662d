"""The base of every error caused by user input; the CLI prints these without a traceback."""


class StickposeError(ValueError):
    """A user mistake (bad value, missing file, refused overwrite) with a one-line message."""
