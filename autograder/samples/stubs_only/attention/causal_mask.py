# Sample submission `stubs_only`: a learner who submitted the stubs from exercises/attention unchanged
# (this header aside). Every test reads "not implemented yet" and the submission scores 0.
"""Step 11: causal masks.

Causal attention hides, for every query ``i``, the keys ``j > i`` that come after it. The
article shows two ways to do this with a mask over the ``T x T`` attention matrix:

1. **Mask the weights and renormalize.** Compute the ordinary attention weights, multiply them
   by a lower-triangular matrix of ones (``torch.tril``) to zero the entries above the diagonal,
   then divide every row by its sum so that it sums to 1 again.
2. **Mask the scores with -inf.** Set the scores above the diagonal to ``-inf`` *before* the
   softmax. Since exp(-inf) = 0, the softmax gives those keys weight 0 and normalizes over the
   remaining ones in a single pass.

Both give exactly the same weights (the softmax is just an exponential divided by a row sum),
and the second is what real implementations use. The blocked positions form the strictly upper
triangle: ``causal_mask(n)`` is True there.
"""

import torch

from attention.weights import attention_weights


def tril_mask(n: int) -> torch.Tensor:
    """A float32 ``(n, n)`` matrix with ones on and below the diagonal, zeros above."""
    raise NotImplementedError("causal_mask: tril_mask is not implemented yet")


def mask_and_renormalize(weights: torch.Tensor) -> torch.Tensor:
    """Zero the attention weights above the diagonal, then make every row sum to 1 again.

    Shapes: ``weights`` is ``(..., T, T)``, the result too.

    Hint: ``sum(dim=-1, keepdim=True)`` keeps a dimension of size 1 so the division broadcasts.
    """
    raise NotImplementedError("causal_mask: mask_and_renormalize is not implemented yet")


def causal_mask(n: int) -> torch.Tensor:
    """A bool ``(n, n)`` matrix, True where the key comes after the query (blocked).

    Entry ``[i, j]`` is True exactly when ``j > i``: the strictly upper triangle.
    """
    raise NotImplementedError("causal_mask: causal_mask is not implemented yet")


def mask_scores(scores: torch.Tensor) -> torch.Tensor:
    """A new tensor: ``scores`` with ``-inf`` above the diagonal (the blocked positions).

    Shapes: ``scores`` is ``(..., T, T)``, the result too, in a floating dtype. The input is not
    changed. Non-square scores raise ``ValueError``.

    Hint: ``masked_fill`` returns a new tensor; ``masked_fill_`` (with the underscore) would
    change the caller's scores.
    """
    raise NotImplementedError("causal_mask: mask_scores is not implemented yet")


def causal_attention_weights(scores: torch.Tensor, d_k: int | float) -> torch.Tensor:
    """Causal attention weights: the softmax of the masked ``scores / sqrt(d_k)``.

    Shapes: ``scores`` is ``(..., T, T)``; the result is lower triangular with rows summing
    to 1. Non-square scores raise ``ValueError``.

    Scores may be of any magnitude, e.g. -1e6: mask with ``-inf`` (or ``torch.finfo(dtype).min``), not
    with a finite value such as -1e4 that real scores can fall below, and use a softmax that subtracts
    the row maximum, such as ``torch.softmax``.
    """
    raise NotImplementedError("causal_mask: causal_attention_weights is not implemented yet")


def is_causal(matrix: torch.Tensor) -> bool:
    """True iff every entry above the diagonal of ``matrix`` is 0 or ``-inf``.

    ``matrix`` is ``(..., n, n)`` (scores or weights; every matrix of a batch must be causal).
    NaN above the diagonal makes it False. Returns a Python ``bool``.
    """
    raise NotImplementedError("causal_mask: is_causal is not implemented yet")
