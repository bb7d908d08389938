"""torch's global generator in the grading process, shared by every grading thread.

The grader checks several submissions at once, one thread each (``--jobs``), and torch has one
global generator per process: a thread's seed-then-draw must not interleave with another's.
Both the hidden checks (`autograder.hidden`) and the stand-in oracle (`autograder.sandbox.oracle`)
draw only inside `isolated`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import torch

T = TypeVar("T")

GLOBAL_GENERATOR_LOCK = threading.RLock()


def isolated(make: Callable[[], T]) -> T:
    """``make()`` (which may seed and draw) without changing this process's global generator.

    Holds the process-wide generator lock, so concurrent checks never interleave their draws.
    """
    with GLOBAL_GENERATOR_LOCK, torch.random.fork_rng(devices=[]):
        return make()
