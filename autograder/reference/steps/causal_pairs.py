"""Reference for step 10, causal query-key pairs: the grader's oracle, and the stand-in later steps get."""

from __future__ import annotations

import operator
from typing import Any

import torch


def checked_count(value: Any, what: str) -> int:
    """A non-negative int from anything ``operator.index`` accepts, except ``bool``."""
    if isinstance(value, bool) or (isinstance(value, torch.Tensor) and value.dtype == torch.bool):
        raise ValueError(f"{what} must be an integer, not a bool")
    try:
        number = operator.index(value)
    except TypeError:
        raise ValueError(f"{what} must be an integer, got {type(value).__name__}") from None
    if number < 0:
        raise ValueError(f"{what} must be >= 0, got {number}")
    return number


def causal_pairs(seq_len: Any) -> list[tuple[int, int]]:
    """Every ``(i, j)`` with ``0 <= j <= i < seq_len``, ordered by i then j."""
    n = checked_count(seq_len, "seq_len")
    rows, cols = torch.tril_indices(n, n).tolist()
    return list(zip(rows, cols, strict=True))


def count_causal_pairs(seq_len: Any) -> int:
    """``len(causal_pairs(seq_len))`` in closed form: n (n + 1) / 2."""
    n = checked_count(seq_len, "seq_len")
    return n * (n + 1) // 2


def keys_attended(position: Any) -> int:
    """How many keys the query at ``position`` is compared against: itself and every earlier one."""
    return checked_count(position, "position") + 1
