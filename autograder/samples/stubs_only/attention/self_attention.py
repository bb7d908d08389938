# Sample submission `stubs_only`: a learner who submitted the stubs from exercises/attention unchanged
# (this header aside). Every test reads "not implemented yet" and the submission scores 0.
"""Step 7: a self-attention module.

Steps 3 to 6 together are one self-attention layer. The article packages them as a PyTorch
module, ``SelfAttention``: its trainable parameters are the three projection matrices, and its
``forward`` computes

    Q = X W_query,  K = X W_key,  V = X W_value
    Z = softmax(Q Kᵀ / sqrt(d_k)) V

for all tokens at once. With ``torch.manual_seed(123)`` and ``SelfAttention(3, 2, 4)``, the
embedded running example gives a ``(6, 4)`` output whose second row is
``[0.5313, 1.3607, 0.7891, 1.3110]``.

It is called *self*-attention because queries, keys and values all come from the same
sequence ``x``.
"""

import torch
from torch import nn

from attention.projections import init_projections


class SelfAttention(nn.Module):
    """Scaled dot-product self-attention with one head.

    Parameters ``W_query`` ``(d_in, d_out_kq)``, ``W_key`` ``(d_in, d_out_kq)`` and ``W_value``
    ``(d_in, d_out_v)``, drawn with ``torch.rand`` in that order (as ``init_projections`` does).
    """

    def __init__(self, d_in: int, d_out_kq: int, d_out_v: int) -> None:
        """Hint: call ``super().__init__()`` before assigning parameters to ``self``."""
        raise NotImplementedError("self_attention: SelfAttention.__init__ is not implemented yet")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Context vectors for the inputs ``x``.

        Shapes: ``x`` is ``(T, d_in)`` or ``(B, T, d_in)``; the result is ``(T, d_out_v)`` or
        ``(B, T, d_out_v)``.

        Hint: the article's ``keys.T`` breaks for batched inputs.
        """
        raise NotImplementedError("self_attention: SelfAttention.forward is not implemented yet")
