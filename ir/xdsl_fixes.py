"""Work-arounds for xDSL 0.74 bugs that hostile input reaches (each says what it fixes).

Imported by `ir/tfm.py`, so every parser Tandem builds (ir.io, tandem-opt) has them.
"""

from __future__ import annotations

import re

from xdsl.utils.mlir_lexer import MLIRLexer

# The string-literal pattern nests `[^"...]+` inside `(...)*`: an unterminated string on a long
# line backtracks exponentially (`%0 = "aaaa...` of 60 characters never finishes). The same
# language without the nested quantifier matches in linear time.
MLIRLexer._unescaped_characters_regex = re.compile(
    r'"(?:[^"\\\n\v\f]|\\(?:["nt\\]|[0-9A-Fa-f]{2}))*"'
)
