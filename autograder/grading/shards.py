"""``grade ... --shard K/N``: the K-th of N deterministic parts of a batch, for a cluster's array job.

The submissions are put in name order and dealt round-robin: shard K (1-based) gets the 1st,
(N+1)-th, ... of them from the K-th on, so every submission is in exactly one shard whatever the
machine, and the shards' sizes differ by at most one. Each shard must use the same ``--seed``
(every hidden input comes from it), so the N folders merged by ``python -m autograder report``
hold exactly the rows one unsharded run gives (`report_cli` puts merged rows in name order, the
order of a batch folder's rows).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeVar

from ..errors import UsageError

Item = TypeVar("Item")
_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/8"`` -> ``(2, 8)``; `UsageError` (one line) unless ``1 <= K <= N``."""
    match = _SHARD.match(text)
    if match is None:
        raise UsageError(f"--shard {text!r}: expected K/N, such as 1/4 (shard K of N, counting from 1)")
    index, count = int(match.group(1)), int(match.group(2))
    if not 1 <= index <= count:
        raise UsageError(f"--shard {text}: K must be between 1 and N ({count})")
    return index, count


def shard_of(items: Sequence[Item], names: Sequence[str], index: int, count: int) -> list[Item]:
    """The ``items`` (named ``names``) of shard ``index`` of ``count``: round-robin over the names' order."""
    ordered = sorted(range(len(items)), key=lambda i: names[i])
    return [items[i] for position, i in enumerate(ordered) if position % count == index - 1]
