"""Parsing Python source in the grader, safe when submissions are graded in several threads.

CPython before 3.11.5 (Debian 12's 3.11.2 among them) keeps the AST constructor's recursion depth
in state shared by all threads: two ``ast.parse`` calls at once (``--jobs 2``, or the lanes of one
submission) fail with ``SystemError: AST constructor recursion depth mismatch`` (CPython
gh-106905), and the grader then failed a submission. Every parse the grader makes goes through
this lock; parsing takes milliseconds, so nothing waits long.
"""

from __future__ import annotations

import ast
import threading
from typing import Any

_LOCK = threading.Lock()


def parse(source: str, filename: str = "<unknown>", mode: str = "exec") -> ast.AST:
    """``ast.parse``, one thread at a time."""
    with _LOCK:
        return ast.parse(source, filename=filename, mode=mode)


def literal_eval(text: str) -> Any:
    """``ast.literal_eval`` of a string, one thread at a time (it parses too)."""
    with _LOCK:
        return ast.literal_eval(text)
