"""Reference for step 12, causal self-attention: the grader's oracle, and the stand-in later steps get."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ..shared import rand_parameters as _rand_parameters
from .causal_mask import causal_mask


def token_output(weights_row: Any, values: Any) -> torch.Tensor:
    """``sum_{j <= i} alpha_ij v_j`` for the i + 1 weights of ``weights_row``; later value rows are ignored."""
    weights = torch.as_tensor(weights_row)
    value_rows = torch.as_tensor(values)
    dtype = torch.promote_types(weights.dtype, value_rows.dtype)
    if not dtype.is_floating_point:
        dtype = torch.get_default_dtype()
    count = weights.shape[-1]
    if value_rows.dim() < 2 or value_rows.shape[-2] < count:
        raise ValueError(f"values needs at least {count} rows (one per weight), got shape {tuple(value_rows.shape)}")
    used = value_rows[..., :count, :].to(dtype)
    return (weights.to(dtype).unsqueeze(-2) @ used).squeeze(-2)


class CausalSelfAttention(nn.Module):
    """`SelfAttention` whose queries only see keys at or before their position (``mask`` buffer)."""

    def __init__(self, d_in: int, d_out_kq: int, d_out_v: int, context_length: int) -> None:
        super().__init__()
        self.context_length = context_length
        self.W_query, self.W_key, self.W_value = _rand_parameters((d_in, d_out_kq), (d_in, d_out_kq), (d_in, d_out_v))
        self.register_buffer("mask", causal_mask(context_length))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(T, d_in)`` or ``(B, T, d_in)`` with ``T <= context_length``."""
        length = x.shape[-2]
        if length > self.mask.shape[-1]:
            raise ValueError(f"sequence length {length} exceeds context_length {self.mask.shape[-1]}")
        allowed = ~self.mask[:length, :length]
        return F.scaled_dot_product_attention(x @ self.W_query, x @ self.W_key, x @ self.W_value, attn_mask=allowed)
