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
        raise NotImplementedError("cross_attention: CrossAttention.__init__ is not implemented yet")

    def forward(self, x_1: torch.Tensor, x_2: torch.Tensor) -> torch.Tensor:
        """Context vectors for the tokens of ``x_1``, attending to the tokens of ``x_2``.

        Shapes: ``x_1`` is ``(T_1, d_in)`` and ``x_2`` is ``(T_2, d_in)``, or with the same batch
        dimension ``(B, T_1, d_in)`` and ``(B, T_2, d_in)``; the result is ``(T_1, d_out_v)``
        (or ``(B, T_1, d_out_v)``).

        Hint: the attention weights have shape ``(..., T_1, T_2)``: one row per query.
        """
        raise NotImplementedError("cross_attention: CrossAttention.forward is not implemented yet")
