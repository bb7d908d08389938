"""Reference for step 7, a self-attention module: the grader's oracle, and the stand-in later steps get."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..shared import rand_parameters as _rand_parameters


class SelfAttention(nn.Module):
    """Scaled dot-product self-attention with ``torch.rand`` projections ``W_query``, ``W_key``, ``W_value``."""

    def __init__(self, d_in: int, d_out_kq: int, d_out_v: int) -> None:
        super().__init__()
        self.W_query, self.W_key, self.W_value = _rand_parameters((d_in, d_out_kq), (d_in, d_out_kq), (d_in, d_out_v))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(T, d_in)`` or ``(B, T, d_in)`` to ``(..., T, d_out_v)``."""
        return F.scaled_dot_product_attention(x @ self.W_query, x @ self.W_key, x @ self.W_value)
