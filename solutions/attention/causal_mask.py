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
    ### BEGIN SOLUTION
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    return torch.tril(torch.ones(n, n, dtype=torch.float32))
    ### END SOLUTION


def mask_and_renormalize(weights: torch.Tensor) -> torch.Tensor:
    """Zero the attention weights above the diagonal, then make every row sum to 1 again.

    Shapes: ``weights`` is ``(..., T, T)``, the result too.

    Hint: ``sum(dim=-1, keepdim=True)`` keeps a dimension of size 1 so the division broadcasts.
    """
    ### BEGIN SOLUTION
    if weights.dim() < 2 or weights.shape[-1] != weights.shape[-2]:
        raise ValueError(f"weights must be square, of shape (..., T, T), got {tuple(weights.shape)}")
    masked = weights * tril_mask(weights.shape[-1])  # (..., T, T) * (T, T) -> (..., T, T), zero above the diagonal
    return masked / masked.sum(dim=-1, keepdim=True)
    ### END SOLUTION


def causal_mask(n: int) -> torch.Tensor:
    """A bool ``(n, n)`` matrix, True where the key comes after the query (blocked).

    Entry ``[i, j]`` is True exactly when ``j > i``: the strictly upper triangle.
    """
    ### BEGIN SOLUTION
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    return torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
    ### END SOLUTION


def mask_scores(scores: torch.Tensor) -> torch.Tensor:
    """A new tensor: ``scores`` with ``-inf`` above the diagonal (the blocked positions).

    Shapes: ``scores`` is ``(..., T, T)``, the result too, in a floating dtype. The input is not
    changed. Non-square scores raise ``ValueError``.

    Hint: ``masked_fill`` returns a new tensor; ``masked_fill_`` (with the underscore) would
    change the caller's scores.
    """
    ### BEGIN SOLUTION
    if scores.dim() < 2 or scores.shape[-1] != scores.shape[-2]:
        raise ValueError(f"scores must be square, of shape (..., T, T), got {tuple(scores.shape)}")
    if not scores.is_floating_point():
        scores = scores.float()  # -inf needs a floating dtype
    blocked = causal_mask(scores.shape[-1])  # (T, T), broadcast over the batch dimensions
    return scores.masked_fill(blocked, -torch.inf)
    ### END SOLUTION


def causal_attention_weights(scores: torch.Tensor, d_k: int | float) -> torch.Tensor:
    """Causal attention weights: the softmax of the masked ``scores / sqrt(d_k)``.

    Shapes: ``scores`` is ``(..., T, T)``; the result is lower triangular with rows summing
    to 1. Non-square scores raise ``ValueError``.

    Scores may be of any magnitude, e.g. -1e6: mask with ``-inf`` (or ``torch.finfo(dtype).min``), not
    with a finite value such as -1e4 that real scores can fall below, and use a softmax that subtracts
    the row maximum, such as ``torch.softmax``.
    """
    ### BEGIN SOLUTION
    return attention_weights(mask_scores(scores), d_k)
    ### END SOLUTION


def is_causal(matrix: torch.Tensor) -> bool:
    """True iff every entry above the diagonal of ``matrix`` is 0 or ``-inf``.

    ``matrix`` is ``(..., n, n)`` (scores or weights; every matrix of a batch must be causal).
    NaN above the diagonal makes it False. Returns a Python ``bool``.
    """
    ### BEGIN SOLUTION
    matrix = torch.as_tensor(matrix)
    if matrix.dim() < 2 or matrix.shape[-1] != matrix.shape[-2]:
        raise ValueError(f"matrix must be square, of shape (..., n, n), got {tuple(matrix.shape)}")
    above = matrix[..., causal_mask(matrix.shape[-1])]  # (..., n, n) -> (..., n * (n - 1) / 2)
    return bool(((above == 0) | (above == -torch.inf)).all())
    ### END SOLUTION
