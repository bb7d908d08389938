"""The grader's output limit, on the learner's side: what a step's code may print.

The grader sends a step's printed output to a file capped at ``limits.output_kb`` (`selfcheck.steps.OUTPUT_KB`,
per step); printing beyond it raises an error in the learner's code, and a failing check then says why
(`output_limit_note`, the one wording). ``pytest`` does the same with `capped_output` around each check:
``print`` (``sys.stdout``, ``sys.stderr``) counts against the step's `OutputBudget`, the write that crosses the
limit is cut, and the next one raises ``OSError`` (EFBIG, "File too large"), as the grader's file does. So a
failing test shows at most that much captured output, never hundreds of MB. Output written straight to the
file descriptor (``os.write(1, ...)``, C code) is not counted here.
"""

from __future__ import annotations

import errno
import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO


def output_limit_note(kb: float) -> str:
    """What a failing check adds when the step's code printed as much as it may (the grader's words too)."""
    return f" (Your code printed more than {kb:g} KB; printing beyond that raises an error. Print less.)"


@dataclass
class OutputBudget:
    """Bytes a step's code may still print (shared by the step's checks)."""

    limit_bytes: int
    used: int = 0
    hit: bool = False


class CappedOutput(io.TextIOBase):
    """A text stream that passes writes to ``target`` until ``budget`` is spent, then raises ``OSError``."""

    def __init__(self, target: TextIO, budget: OutputBudget) -> None:
        super().__init__()
        self._target = target
        self._budget = budget

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        data = str(text)
        size = len(data.encode("utf-8", "replace"))
        room = self._budget.limit_bytes - self._budget.used
        if size > room:
            self._budget.hit = True
            if room > 0:
                self._target.write(data.encode("utf-8", "replace")[:room].decode("utf-8", "ignore"))
                self._budget.used = self._budget.limit_bytes
            raise OSError(errno.EFBIG, os.strerror(errno.EFBIG))
        self._budget.used += size
        self._target.write(data)
        return len(data)

    def flush(self) -> None:
        self._target.flush()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._target, "encoding", None) or "utf-8"

    def isatty(self) -> bool:
        return False


@contextmanager
def capped_output(budget: OutputBudget) -> Iterator[None]:
    """Run the body with ``sys.stdout`` and ``sys.stderr`` counted against ``budget``."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = CappedOutput(saved[0], budget), CappedOutput(saved[1], budget)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
