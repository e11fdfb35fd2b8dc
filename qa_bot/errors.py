"""The one exception a user ever sees: a message that says what is wrong and what to do."""


class QaBotError(Exception):
    """A user-facing failure, printed as one line without a traceback."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type when it has none: for one-line errors."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
