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
    raise NotImplementedError("causal_attention: token_output is not implemented yet")


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
        raise NotImplementedError("causal_attention: CausalSelfAttention.__init__ is not implemented yet")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Causal context vectors: row ``i`` only depends on the tokens ``0 .. i`` of ``x``.

        Shapes: ``x`` is ``(T, d_in)`` or ``(B, T, d_in)`` with ``T <= context_length``; the
        result is ``(T, d_out_v)`` or ``(B, T, d_out_v)``. A longer sequence raises ``ValueError``.

        The scores may be of any magnitude, e.g. -1e6: mask with ``-inf`` (or ``torch.finfo(dtype).min``),
        not with a finite value such as -1e4 that real scores can fall below, and use a softmax that
        subtracts the row maximum, such as ``torch.softmax``.
        """
        raise NotImplementedError("causal_attention: CausalSelfAttention.forward is not implemented yet")
