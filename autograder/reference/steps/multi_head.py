"""Reference for step 8, multi-head attention: the grader's oracle, and the stand-in later steps get."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..shared import rand_parameters as _rand_parameters
from .self_attention import SelfAttention


def _split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    # (..., T, heads * d) -> (..., T, heads, d) -> (..., heads, T, d)
    return x.unflatten(-1, (num_heads, x.shape[-1] // num_heads)).transpose(-3, -2)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    # (..., heads, T, d) -> (..., T, heads, d) -> (..., T, heads * d)
    return x.transpose(-3, -2).flatten(-2)


class MultiHeadAttentionWrapper(nn.Module):
    """``num_heads`` independent `SelfAttention` heads, outputs concatenated on the last dimension."""

    def __init__(self, d_in: int, d_out_kq: int, d_out_v: int, num_heads: int) -> None:
        super().__init__()
        self.heads = nn.ModuleList([SelfAttention(d_in, d_out_kq, d_out_v) for _ in range(num_heads)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([head(x) for head in self.heads], dim=-1)


class MultiHeadAttention(nn.Module):
    """All heads at once: wide projections, head h owning column block h, split and merged by reshaping."""

    def __init__(self, d_in: int, d_out_kq: int, d_out_v: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.W_query, self.W_key, self.W_value = _rand_parameters(
            (d_in, num_heads * d_out_kq), (d_in, num_heads * d_out_kq), (d_in, num_heads * d_out_v)
        )

    @classmethod
    def from_wrapper(cls, wrapper: nn.Module) -> MultiHeadAttention:
        """The efficient module whose output equals ``wrapper``'s (head h's matrices in column block h)."""
        heads = list(wrapper.heads)
        d_in, d_out_kq = heads[0].W_query.shape
        d_out_v = heads[0].W_value.shape[1]
        with torch.random.fork_rng(devices=[]):  # the placeholder draws leave the global RNG alone
            module = cls(d_in, d_out_kq, d_out_v, len(heads))
        with torch.no_grad():
            for name in ("W_query", "W_key", "W_value"):
                getattr(module, name).copy_(torch.cat([getattr(head, name) for head in heads], dim=1))
        return module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(T, d_in)`` or ``(B, T, d_in)`` to ``(..., T, num_heads * d_out_v)``."""
        queries = _split_heads(x @ self.W_query, self.num_heads)
        keys = _split_heads(x @ self.W_key, self.num_heads)
        values = _split_heads(x @ self.W_value, self.num_heads)
        return _merge_heads(F.scaled_dot_product_attention(queries, keys, values))
