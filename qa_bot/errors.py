"""The one exception a user ever sees: a message that says what is wrong and what to do."""


class QaBotError(Exception):
    """A user-facing failure, printed as one line without a traceback."""
