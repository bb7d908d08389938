"""Reference for step 9, cross-attention: the grader's oracle, and the stand-in later steps get."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..shared import rand_parameters as _rand_parameters


class CrossAttention(nn.Module):
    """Queries from ``x_1``, keys and values from ``x_2``."""

    def __init__(self, d_in: int, d_out_kq: int, d_out_v: int) -> None:
        super().__init__()
        self.W_query, self.W_key, self.W_value = _rand_parameters((d_in, d_out_kq), (d_in, d_out_kq), (d_in, d_out_v))

    def forward(self, x_1: torch.Tensor, x_2: torch.Tensor) -> torch.Tensor:
        """``(..., T_1, d_in)`` and ``(..., T_2, d_in)`` to ``(..., T_1, d_out_v)``."""
        return F.scaled_dot_product_attention(x_1 @ self.W_query, x_2 @ self.W_key, x_2 @ self.W_value)
