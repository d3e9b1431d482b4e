"""The one exception type users see: a clear, one-line message, no traceback."""


class TandemError(Exception):
    """A user-facing error. The CLI prints `error: <message>` and exits with status 1.

    Say which op, node, file and line went wrong, and what was expected.
    """


def one_line(exc: BaseException) -> str:
    """A multi-line library message (carets, boxes, context) folded into one readable line."""
    parts = []
    for line in str(exc).splitlines():
        text = line.strip().strip("|").strip()
        if text and not set(text) <= set("^-~ "):
            parts.append(text)
    return " ".join(parts) or type(exc).__name__
