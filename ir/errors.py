"""The errors users see: one clear line naming the op, node, file or key, never a traceback.

Every layer raises these; the command line prints `error: <message>` and exits non-zero.

    raise TandemError("tfm.matmul in layer 3: reduction dims differ: lhs 2x3 has K=3, rhs 4x5 has K=4")
    raise PassError("pad-shapes: unknown target 'a1OO'")
"""

from __future__ import annotations

from xdsl.utils.exceptions import PassFailedException


class TandemError(Exception):
    """A user-facing error: bad input, an unsupported model, an impossible request.

    Say which op, node, file and line went wrong, and what was expected.
    """


class PassError(TandemError, PassFailedException):
    """A pass could not run on its input (xDSL's `PassFailedException`, user-facing)."""


def one_line(exc: BaseException) -> str:
    """A multi-line library message (carets, boxes, context) folded into one readable line."""
    parts = []
    for line in str(exc).splitlines():
        text = line.strip().strip("|").strip()
        if text and not set(text) <= set("^-~ "):
            parts.append(text)
    return " ".join(parts) or type(exc).__name__
