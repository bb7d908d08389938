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
        ### BEGIN SOLUTION
        super().__init__()
        if isinstance(num_heads, bool) or not isinstance(num_heads, int) or num_heads < 1:
            raise ValueError(f"num_heads must be a positive integer, got {num_heads!r}")
        self.heads = nn.ModuleList([SelfAttention(d_in, d_out_kq, d_out_v) for _ in range(num_heads)])
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The heads' outputs concatenated on the last dimension.

        Shapes: ``x`` is ``(T, d_in)`` or ``(B, T, d_in)``; the result is
        ``(T, num_heads * d_out_v)`` or ``(B, T, num_heads * d_out_v)``, head ``h`` filling
        columns ``h * d_out_v`` to ``(h + 1) * d_out_v - 1``.
        """
        ### BEGIN SOLUTION
        outputs = [head(x) for head in self.heads]
        return torch.cat(outputs, dim=-1)  # num_heads x (..., T, d_out_v) -> (..., T, num_heads * d_out_v)
        ### END SOLUTION


class MultiHeadAttention(nn.Module):
    """Multi-head attention with one wide matrix per projection.

    Parameters ``W_query`` and ``W_key`` ``(d_in, num_heads * d_out_kq)`` and ``W_value``
    ``(d_in, num_heads * d_out_v)``, drawn with ``torch.rand`` in that order. Head ``h`` owns
    column block ``h``: columns ``h * d_out_kq`` to ``(h + 1) * d_out_kq - 1`` of ``W_query`` and
    ``W_key``, and likewise for ``W_value`` with ``d_out_v``.
    """

    def __init__(self, d_in: int, d_out_kq: int, d_out_v: int, num_heads: int) -> None:
        """The wide matrices, drawn with ``torch.rand`` in the order W_query, W_key, W_value."""
        ### BEGIN SOLUTION
        super().__init__()
        for name, size in (("d_out_kq", d_out_kq), ("d_out_v", d_out_v), ("num_heads", num_heads)):
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise ValueError(f"{name} must be a positive integer, got {size!r}")
        self.d_in = d_in
        self.d_out_kq = d_out_kq
        self.d_out_v = d_out_v
        self.num_heads = num_heads
        self.W_query, self.W_key, self.W_value = init_projections(d_in, num_heads * d_out_kq, num_heads * d_out_v)
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """All heads at once, without a loop over heads.

        Shapes: ``x`` is ``(T, d_in)`` or ``(B, T, d_in)``; the result is
        ``(T, num_heads * d_out_v)`` or ``(B, T, num_heads * d_out_v)``, laid out like the
        wrapper's output.

        Hint: reshape the projections to ``(..., T, num_heads, d)``, then move the head
        dimension before ``T`` so that one batched matrix product serves all heads.
        """
        ### BEGIN SOLUTION
        if x.dim() < 2 or x.shape[-1] != self.d_in:
            raise ValueError(f"x must have shape (T, {self.d_in}) or (B, T, {self.d_in}), got {tuple(x.shape)}")
        *batch, T, _ = x.shape
        heads, d_kq, d_v = self.num_heads, self.d_out_kq, self.d_out_v
        queries = x @ self.W_query  # (..., T, d_in) -> (..., T, heads * d_kq)
        keys = x @ self.W_key  # (..., T, d_in) -> (..., T, heads * d_kq)
        values = x @ self.W_value  # (..., T, d_in) -> (..., T, heads * d_v)
        queries = queries.reshape(*batch, T, heads, d_kq)  # (..., T, heads * d_kq) -> (..., T, heads, d_kq)
        keys = keys.reshape(*batch, T, heads, d_kq)  # (..., T, heads * d_kq) -> (..., T, heads, d_kq)
        values = values.reshape(*batch, T, heads, d_v)  # (..., T, heads * d_v) -> (..., T, heads, d_v)
        queries = queries.transpose(-3, -2)  # (..., T, heads, d_kq) -> (..., heads, T, d_kq)
        keys = keys.transpose(-3, -2)  # (..., T, heads, d_kq) -> (..., heads, T, d_kq)
        values = values.transpose(-3, -2)  # (..., T, heads, d_v) -> (..., heads, T, d_v)
        keys_t = keys.transpose(-2, -1)  # (..., heads, T, d_kq) -> (..., heads, d_kq, T)
        scores = queries @ keys_t  # (..., heads, T, d_kq) @ (..., heads, d_kq, T) -> (..., heads, T, T)
        weights = torch.softmax(scores / d_kq**0.5, dim=-1)
        context = weights @ values  # (..., heads, T, T) @ (..., heads, T, d_v) -> (..., heads, T, d_v)
        context = context.transpose(-3, -2)  # (..., heads, T, d_v) -> (..., T, heads, d_v)
        return context.reshape(*batch, T, heads * d_v)  # (..., T, heads, d_v) -> (..., T, heads * d_v)
        ### END SOLUTION

    @classmethod
    def from_wrapper(cls, wrapper: MultiHeadAttentionWrapper) -> "MultiHeadAttention":
        """A ``MultiHeadAttention`` whose output equals ``wrapper``'s for every input.

        Its wide matrices hold the wrapper's heads' matrices side by side, head ``h`` in column
        block ``h``. The new parameters are copies: changing one module leaves the other alone.

        Hint: ``torch.cat`` along ``dim=1`` puts ``(d_in, d)`` matrices side by side.
        """
        ### BEGIN SOLUTION
        heads = list(wrapper.heads)
        if not heads:
            raise ValueError("the wrapper has no heads")
        shapes = {(tuple(h.W_query.shape), tuple(h.W_key.shape), tuple(h.W_value.shape)) for h in heads}
        if len(shapes) != 1:
            raise ValueError(f"the wrapper's heads have different shapes: {sorted(shapes)}")
        d_in, d_out_kq = heads[0].W_query.shape
        d_out_v = heads[0].W_value.shape[1]
        with torch.random.fork_rng(devices=[]):  # building draws random matrices; leave the caller's generator alone
            mha = cls(d_in, d_out_kq, d_out_v, len(heads))
        with torch.no_grad():
            for name in ("W_query", "W_key", "W_value"):
                wide = torch.cat([getattr(h, name) for h in heads], dim=1)  # heads x (d_in, d) -> (d_in, heads * d)
                getattr(mha, name).copy_(wide)
        return mha
        ### END SOLUTION
