"""Parsing Python source in the grader, safe when submissions are graded in several threads.

CPython before 3.11.5 (Debian 12's 3.11.2 among them) keeps the AST constructor's recursion depth
in state shared by all threads: two ``ast.parse`` calls at once (``--jobs 2``, or the lanes of one
submission) fail with ``SystemError: AST constructor recursion depth mismatch`` (CPython
gh-106905), and the grader then failed a submission. Every parse the grader makes goes through
this lock; parsing takes milliseconds, so nothing waits long.

A source nested too deeply for the parser (``[[[[...]]]]`` 100,000 deep raises ``MemoryError``
in ``ast.parse``) is a ``SyntaxError`` here, which every caller already turns into a note for that
file or answer alone.
"""

from __future__ import annotations

import ast
import threading
from typing import Any

_LOCK = threading.Lock()


def parse(source: str, filename: str = "<unknown>", mode: str = "exec") -> ast.AST:
    """``ast.parse``, one thread at a time."""
    with _LOCK:
        try:
            return ast.parse(source, filename=filename, mode=mode)
        except (MemoryError, RecursionError):  # a source nested 100,000 deep: the parser's stack, not ours
            raise SyntaxError("the code is nested too deeply to be parsed", (filename, 1, 0, "")) from None


def literal_eval(text: str) -> Any:
    """``ast.literal_eval`` of a string, one thread at a time (it parses too)."""
    with _LOCK:
        return ast.literal_eval(text)
