"""Step 9: cross-attention.

Self-attention takes its queries, keys and values from one sequence. Cross-attention mixes two:
the queries come from a first sequence ``x_1`` and the keys and values from a second sequence
``x_2``. The original transformer uses it in its decoder (queries from the text being
generated, keys and values from the encoded source sentence); Stable Diffusion uses it to let
image features attend to a text prompt.

The article's ``CrossAttention`` is ``SelfAttention`` with one change in ``forward``: keys and
values are computed from ``x_2``. The two sequences may have different lengths ``T_1`` and
``T_2``, but the same embedding size ``d_in``. The output has one row per query: ``(T_1, d_out_v)``.
"""

import torch
from torch import nn

from attention.projections import init_projections


class CrossAttention(nn.Module):
    """Scaled dot-product attention from the tokens of ``x_1`` to the tokens of ``x_2``.

    Parameters ``W_query`` ``(d_in, d_out_kq)``, ``W_key`` ``(d_in, d_out_kq)`` and ``W_value``
    ``(d_in, d_out_v)``, drawn with ``torch.rand`` in that order.
    """

    def __init__(self, d_in: int, d_out_kq: int, d_out_v: int) -> None:
        ### BEGIN SOLUTION
        super().__init__()
        self.d_in = d_in
        self.d_out_kq = d_out_kq
        self.d_out_v = d_out_v
        self.W_query, self.W_key, self.W_value = init_projections(d_in, d_out_kq, d_out_v)
        ### END SOLUTION

    def forward(self, x_1: torch.Tensor, x_2: torch.Tensor) -> torch.Tensor:
        """Context vectors for the tokens of ``x_1``, attending to the tokens of ``x_2``.

        Shapes: ``x_1`` is ``(T_1, d_in)`` and ``x_2`` is ``(T_2, d_in)``, or with the same batch
        dimension ``(B, T_1, d_in)`` and ``(B, T_2, d_in)``; the result is ``(T_1, d_out_v)``
        (or ``(B, T_1, d_out_v)``).

        Hint: the attention weights have shape ``(..., T_1, T_2)``: one row per query.
        """
        ### BEGIN SOLUTION
        for name, x in (("x_1", x_1), ("x_2", x_2)):
            if x.dim() < 2 or x.shape[-1] != self.d_in:
                raise ValueError(
                    f"{name} must have shape (T, {self.d_in}) or (B, T, {self.d_in}), got {tuple(x.shape)}"
                )
        if x_1.shape[:-2] != x_2.shape[:-2]:
            raise ValueError(
                f"x_1 and x_2 must have the same batch shape, got shapes {tuple(x_1.shape)} and {tuple(x_2.shape)}"
            )
        queries_1 = x_1 @ self.W_query  # (..., T_1, d_in) -> (..., T_1, d_out_kq)
        keys_2 = x_2 @ self.W_key  # (..., T_2, d_in) -> (..., T_2, d_out_kq)
        values_2 = x_2 @ self.W_value  # (..., T_2, d_in) -> (..., T_2, d_out_v)
        keys_2_t = keys_2.transpose(-2, -1)  # (..., T_2, d_out_kq) -> (..., d_out_kq, T_2)
        scores = queries_1 @ keys_2_t  # (..., T_1, d_out_kq) @ (..., d_out_kq, T_2) -> (..., T_1, T_2)
        weights = torch.softmax(scores / self.d_out_kq**0.5, dim=-1)
        return weights @ values_2  # (..., T_1, T_2) @ (..., T_2, d_out_v) -> (..., T_1, d_out_v)
        ### END SOLUTION
