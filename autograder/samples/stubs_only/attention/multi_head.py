# Sample submission `stubs_only`: a learner who submitted the stubs from exercises/attention unchanged
# (this header aside). Every test reads "not implemented yet" and the submission scores 0.
"""Step 8: multi-head attention.

One head of self-attention learns one way for tokens to attend to each other. Multi-head
attention runs several heads in parallel, each with its own W_query, W_key and W_value, and
concatenates their context vectors: with 4 heads and d_v = 4 every token gets a
16-dimensional output.

The article first writes this literally, as a ``MultiHeadAttentionWrapper`` holding a list of
``SelfAttention`` modules. The efficient form, ``MultiHeadAttention``, stores the heads'
matrices side by side in one wide matrix per projection (head ``h`` owns column block ``h``),
so one matrix product projects the tokens for all heads at once; reshaping then splits the
result into heads, attention runs for all heads in one batched product, and a last reshape
merges the heads again. Both compute the same function: ``MultiHeadAttention.from_wrapper``
turns a wrapper into the efficient module with identical output.
"""

import torch
from torch import nn

from attention.projections import init_projections
from attention.self_attention import SelfAttention


class MultiHeadAttentionWrapper(nn.Module):
    """``num_heads`` independent ``SelfAttention`` heads, outputs concatenated.

    ``heads`` is an ``nn.ModuleList`` of ``num_heads`` ``SelfAttention(d_in, d_out_kq, d_out_v)``
    modules, created one after the other (head 0 draws its parameters first).
    """

    def __init__(self, d_in: int, d_out_kq: int, d_out_v: int, num_heads: int) -> None:
        """``num_heads`` separate ``SelfAttention(d_in, d_out_kq, d_out_v)`` heads, built one after the other."""
        raise NotImplementedError("multi_head: MultiHeadAttentionWrapper.__init__ is not implemented yet")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The heads' outputs concatenated on the last dimension.

        Shapes: ``x`` is ``(T, d_in)`` or ``(B, T, d_in)``; the result is
        ``(T, num_heads * d_out_v)`` or ``(B, T, num_heads * d_out_v)``, head ``h`` filling
        columns ``h * d_out_v`` to ``(h + 1) * d_out_v - 1``.
        """
        raise NotImplementedError("multi_head: MultiHeadAttentionWrapper.forward is not implemented yet")


class MultiHeadAttention(nn.Module):
    """Multi-head attention with one wide matrix per projection.

    Parameters ``W_query`` and ``W_key`` ``(d_in, num_heads * d_out_kq)`` and ``W_value``
    ``(d_in, num_heads * d_out_v)``, drawn with ``torch.rand`` in that order. Head ``h`` owns
    column block ``h``: columns ``h * d_out_kq`` to ``(h + 1) * d_out_kq - 1`` of ``W_query`` and
    ``W_key``, and likewise for ``W_value`` with ``d_out_v``.
    """

    def __init__(self, d_in: int, d_out_kq: int, d_out_v: int, num_heads: int) -> None:
        """The wide matrices, drawn with ``torch.rand`` in the order W_query, W_key, W_value."""
        raise NotImplementedError("multi_head: MultiHeadAttention.__init__ is not implemented yet")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """All heads at once, without a loop over heads.

        Shapes: ``x`` is ``(T, d_in)`` or ``(B, T, d_in)``; the result is
        ``(T, num_heads * d_out_v)`` or ``(B, T, num_heads * d_out_v)``, laid out like the
        wrapper's output.

        Hint: reshape the projections to ``(..., T, num_heads, d)``, then move the head
        dimension before ``T`` so that one batched matrix product serves all heads.
        """
        raise NotImplementedError("multi_head: MultiHeadAttention.forward is not implemented yet")

    @classmethod
    def from_wrapper(cls, wrapper: MultiHeadAttentionWrapper) -> "MultiHeadAttention":
        """A ``MultiHeadAttention`` whose output equals ``wrapper``'s for every input.

        Its wide matrices hold the wrapper's heads' matrices side by side, head ``h`` in column
        block ``h``. The new parameters are copies: changing one module leaves the other alone.

        Hint: ``torch.cat`` along ``dim=1`` puts ``(d_in, d)`` matrices side by side.
        """
        raise NotImplementedError("multi_head: MultiHeadAttention.from_wrapper is not implemented yet")
