"""Reference for step 10, causal query-key pairs: the grader's oracle, and the stand-in later steps get."""

from __future__ import annotations

from typing import Any

import torch

from ..shared import checked_count as _checked_count


def causal_pairs(seq_len: Any) -> list[tuple[int, int]]:
    """Every ``(i, j)`` with ``0 <= j <= i < seq_len``, ordered by i then j."""
    n = _checked_count(seq_len, "seq_len")
    rows, cols = torch.tril_indices(n, n).tolist()
    return list(zip(rows, cols, strict=True))


def count_causal_pairs(seq_len: Any) -> int:
    """``len(causal_pairs(seq_len))`` in closed form: n (n + 1) / 2."""
    n = _checked_count(seq_len, "seq_len")
    return n * (n + 1) // 2


def keys_attended(position: Any) -> int:
    """How many keys the query at ``position`` is compared against: itself and every earlier one."""
    return _checked_count(position, "position") + 1
