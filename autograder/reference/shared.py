"""Helpers several reference step modules share (not a step: no API of its own)."""

from __future__ import annotations

import operator
from typing import Any

import torch
from torch import nn


def rand_parameters(*shapes: tuple[int, int]) -> list[nn.Parameter]:
    """``nn.Parameter(torch.rand(shape))`` for each shape, drawn in order."""
    return [nn.Parameter(torch.rand(*shape)) for shape in shapes]


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
