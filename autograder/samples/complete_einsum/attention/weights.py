# Sample submission `complete_einsum` (correct): step 5 with a hand-written softmax (exp minus the
# row maximum, divided by the row sum) in float64; full marks.
"""Step 5: attention weights, a scaled softmax."""

import math
import numbers

import torch


def attention_weights(scores, d_k):
    """softmax(scores / sqrt(d_k)) over the last dimension, by hand."""
    if isinstance(d_k, bool) or not isinstance(d_k, numbers.Real) or not d_k > 0:
        raise ValueError(f"d_k must be a positive number, not {d_k!r}")
    out_dtype = scores.dtype if scores.is_floating_point() else torch.get_default_dtype()
    scaled = scores.to(torch.float64) / math.sqrt(d_k)
    shifted = scaled - scaled.amax(dim=-1, keepdim=True)  # exp of large numbers would overflow
    exps = torch.exp(shifted)
    return (exps / exps.sum(dim=-1, keepdim=True)).to(out_dtype)
