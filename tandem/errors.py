"""The one exception type users see: a clear, one-line message, no traceback."""


class TandemError(Exception):
    """A user-facing error. The CLI prints `error: <message>` and exits with status 1.

    Say which op, node, file and line went wrong, and what was expected.
    """
