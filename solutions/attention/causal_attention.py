"""Step 12: causal self-attention.

With a causal mask, the output of token ``i`` only mixes the values of tokens ``0 .. i``:

    z_i = Σ_{j <= i} α_ij v_j

so a model that predicts the next word never peeks at it. The article's ``CausalSelfAttention``
is ``SelfAttention`` plus a mask that it registers as a buffer: a tensor that belongs to the
module (it moves with ``.to(device)`` and is saved in the ``state_dict``) but is not trained.
The buffer is built once for the longest sequence the module accepts, ``context_length``, and
``forward`` uses its top-left ``T x T`` corner for a sequence of ``T`` tokens.
"""

from collections.abc import Sequence

import torch
from torch import nn

from attention.causal_mask import causal_mask
from attention.projections import init_projections


def token_output(
    weights_row: torch.Tensor | Sequence[float], values: torch.Tensor | Sequence[Sequence[float]]
) -> torch.Tensor:
    """The causal output of token ``i``: ``sum_{j <= i} weights_row[j] * values[j]``.

    ``weights_row`` holds the ``i + 1`` weights of token ``i``, shape ``(i + 1,)``; ``values``
    has at least ``i + 1`` rows, shape ``(T, d_v)``: later rows are ignored. Tensors or nested
    lists; the result is a floating tensor of shape ``(d_v,)``. When ``values`` has fewer rows
    than ``weights_row`` has entries, ``ValueError``. (Batches work too: ``(..., i + 1)`` and
    ``(..., T, d_v)`` give ``(..., d_v)``.)

    >>> token_output([0.1, 0.6, 0.3], [[1, 2], [3, 0], [4, 5]])
    tensor([3.1000, 1.7000])
    """
    ### BEGIN SOLUTION
    weights_row = torch.as_tensor(weights_row)
    values = torch.as_tensor(values)
    if weights_row.dim() == 0 or values.dim() < 2:
        raise ValueError(
            f"expected weights_row (i + 1,) and values (T, d_v), got shapes "
            f"{tuple(weights_row.shape)} and {tuple(values.shape)}"
        )
    n = weights_row.shape[-1]
    if values.shape[-2] < n:
        raise ValueError(f"weights_row has {n} weights but values has only {values.shape[-2]} rows")
    dtype = torch.promote_types(weights_row.dtype, values.dtype)
    if not dtype.is_floating_point:
        dtype = torch.get_default_dtype()
    row = weights_row.to(dtype).unsqueeze(-2)  # (..., i + 1) -> (..., 1, i + 1)
    seen = values.to(dtype)[..., :n, :]  # (..., T, d_v) -> (..., i + 1, d_v): tokens 0..i only
    return (row @ seen).squeeze(-2)  # (..., 1, i + 1) @ (..., i + 1, d_v) -> (..., 1, d_v) -> (..., d_v)
    ### END SOLUTION


class CausalSelfAttention(nn.Module):
    """Self-attention where every token attends only to itself and the tokens before it.

    Parameters ``W_query``, ``W_key`` ``(d_in, d_out_kq)`` and ``W_value`` ``(d_in, d_out_v)``,
    drawn with ``torch.rand`` in that order, like ``SelfAttention``; plus a registered buffer
    ``mask``, equal to ``causal_mask(context_length)`` (True = blocked).
    """

    def __init__(self, d_in: int, d_out_kq: int, d_out_v: int, context_length: int) -> None:
        """The projections as in ``SelfAttention``, and the mask of ``context_length`` tokens as a buffer.

        Hint: ``self.register_buffer(name, tensor)``.
        """
        ### BEGIN SOLUTION
        super().__init__()
        if isinstance(context_length, bool) or not isinstance(context_length, int) or context_length < 1:
            raise ValueError(f"context_length must be a positive integer, got {context_length!r}")
        self.d_in = d_in
        self.d_out_kq = d_out_kq
        self.d_out_v = d_out_v
        self.context_length = context_length
        self.W_query, self.W_key, self.W_value = init_projections(d_in, d_out_kq, d_out_v)
        self.register_buffer("mask", causal_mask(context_length))
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Causal context vectors: row ``i`` only depends on the tokens ``0 .. i`` of ``x``.

        Shapes: ``x`` is ``(T, d_in)`` or ``(B, T, d_in)`` with ``T <= context_length``; the
        result is ``(T, d_out_v)`` or ``(B, T, d_out_v)``. A longer sequence raises ``ValueError``.

        The scores may be of any magnitude, e.g. -1e6: mask with ``-inf`` (or ``torch.finfo(dtype).min``),
        not with a finite value such as -1e4 that real scores can fall below, and use a softmax that
        subtracts the row maximum, such as ``torch.softmax``.
        """
        ### BEGIN SOLUTION
        if x.dim() < 2 or x.shape[-1] != self.d_in:
            raise ValueError(f"x must have shape (T, {self.d_in}) or (B, T, {self.d_in}), got {tuple(x.shape)}")
        T = x.shape[-2]
        if T > self.context_length:
            raise ValueError(f"the sequence has {T} tokens, more than context_length = {self.context_length}")
        queries = x @ self.W_query  # (..., T, d_in) -> (..., T, d_out_kq)
        keys = x @ self.W_key  # (..., T, d_in) -> (..., T, d_out_kq)
        values = x @ self.W_value  # (..., T, d_in) -> (..., T, d_out_v)
        keys_t = keys.transpose(-2, -1)  # (..., T, d_out_kq) -> (..., d_out_kq, T)
        scores = queries @ keys_t  # (..., T, d_out_kq) @ (..., d_out_kq, T) -> (..., T, T)
        scores = scores.masked_fill(self.mask[:T, :T], -torch.inf)  # keys after the query get -inf
        weights = torch.softmax(scores / self.d_out_kq**0.5, dim=-1)
        return weights @ values  # (..., T, T) @ (..., T, d_out_v) -> (..., T, d_out_v)
        ### END SOLUTION
