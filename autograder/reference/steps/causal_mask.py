"""Reference for step 11, causal masks: the grader's oracle, and the stand-in later steps get."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ..shared import checked_count as _checked_count


def _square_last_two(tensor: torch.Tensor, what: str) -> int:
    """``T`` for a ``(..., T, T)`` tensor; ``ValueError`` otherwise."""
    if tensor.dim() < 2 or tensor.shape[-1] != tensor.shape[-2]:
        raise ValueError(f"{what} must be square in its last two dimensions, got shape {tuple(tensor.shape)}")
    return tensor.shape[-1]


def _floating(tensor: torch.Tensor) -> torch.Tensor:
    return tensor if tensor.is_floating_point() else tensor.to(torch.get_default_dtype())


def tril_mask(n: Any) -> torch.Tensor:
    """float32 ``(n, n)``: ones on and below the diagonal, zeros above."""
    size = _checked_count(n, "n")
    return (nn.Transformer.generate_square_subsequent_mask(size, dtype=torch.float32) == 0).to(torch.float32)


def causal_mask(n: Any) -> torch.Tensor:
    """bool ``(n, n)``: True where the key comes after the query (blocked)."""
    size = _checked_count(n, "n")
    return torch.triu(torch.ones(size, size, dtype=torch.bool), diagonal=1)


def mask_and_renormalize(weights: torch.Tensor) -> torch.Tensor:
    """Zero above the diagonal, then divide each row by its sum."""
    _square_last_two(weights, "weights")
    kept = torch.tril(weights)
    return kept / kept.sum(dim=-1, keepdim=True)


def mask_scores(scores: torch.Tensor) -> torch.Tensor:
    """A new tensor with ``-inf`` above the diagonal of ``(..., T, T)`` scores."""
    size = _square_last_two(scores, "scores")
    return scores.masked_fill(causal_mask(size), float("-inf"))


def causal_attention_weights(scores: torch.Tensor, d_k: Any) -> torch.Tensor:
    """Softmax of causally masked ``scores / sqrt(d_k)``: lower triangular, rows sum to 1.

    Computed by ``scaled_dot_product_attention(is_causal=True)`` with queries = scores and
    keys = values = the identity, so that ``q kᵀ = scores`` and the output is the weights.
    """
    size = _square_last_two(scores, "scores")
    scores = _floating(scores)
    identity = torch.eye(size, dtype=scores.dtype).expand(*scores.shape[:-2], size, size)
    return F.scaled_dot_product_attention(scores, identity, identity, is_causal=True, scale=1.0 / math.sqrt(float(d_k)))


def is_causal(matrix: Any) -> bool:
    """True iff every entry above the diagonal of ``(..., n, n)`` is 0 or ``-inf`` (NaN is not)."""
    tensor = torch.as_tensor(matrix)
    size = _square_last_two(tensor, "matrix")
    above = tensor[..., causal_mask(size)]
    if tensor.dtype == torch.bool:
        return not bool(above.any())
    return bool(((above == 0) | (above == float("-inf"))).all())
