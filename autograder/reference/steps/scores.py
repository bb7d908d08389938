"""Reference for step 4, unnormalized attention scores: the grader's oracle, and the stand-in later steps get."""

from __future__ import annotations

import torch


def attention_scores(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """ω = queries · keysᵀ: ``(d_k,)`` gives ``(..., T_k)``; ``(..., T_q, d_k)`` gives ``(..., T_q, T_k)``."""
    if queries.dim() == 1:
        return torch.einsum("...kd,d->...k", keys, queries)
    return torch.einsum("...qd,...kd->...qk", queries, keys)
