"""Step 5: attention weights, a scaled softmax.

The scores ω become attention weights α by a softmax over the keys, so that each query's
weights are positive and sum to 1. Before the softmax the article divides the scores by
sqrt(d_k): dot products of d_k-dimensional vectors grow with d_k, and very large scores would
push the softmax into a region where one weight is almost 1, the others almost 0, and the
gradients vanish. This is the "scaled" in scaled dot-product attention:

    α = softmax(ω / sqrt(d_k))
"""

import numbers  # optional: numbers.Real, to check that d_k is a number (an int or a float)

import torch


def attention_weights(scores: torch.Tensor, d_k: int | float) -> torch.Tensor:
    """Softmax of ``scores / sqrt(d_k)`` over the last dimension (the keys).

    Shapes: ``scores`` is ``(..., T_k)`` (typically ``(..., T_q, T_k)``); the result has the
    same shape, and every slice along the last dimension sums to 1. ``d_k`` is a positive
    number.

    The scores may be of any magnitude, e.g. 1000 or -1e6: use a softmax that subtracts each row's
    maximum before ``exp``, such as ``torch.softmax`` (``exp(1000)`` is ``inf``, even in float64).

    Hint: ``torch.softmax(t, dim=-1)`` normalizes along the last dimension.
    """
    ### BEGIN SOLUTION
    if isinstance(d_k, bool) or not isinstance(d_k, numbers.Real) or not d_k > 0:
        raise ValueError(f"d_k must be a positive number, got {d_k!r}")
    return torch.softmax(scores / d_k**0.5, dim=-1)
    ### END SOLUTION
