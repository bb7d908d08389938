# Sample submission `complete_einsum` (correct): step 6 with einsum; full marks.
"""Step 6: context vectors."""

import torch


def context_vectors(weights, values):
    """z_i = sum_j weights[i, j] * values[j] (one weight row (T,) gives one vector (d_v,))."""
    if weights.dim() == 0 or values.dim() < 2:
        raise ValueError(f"bad shapes: weights {tuple(weights.shape)}, values {tuple(values.shape)}")
    if weights.shape[-1] != values.shape[-2]:
        raise ValueError(f"{weights.shape[-1]} weights per row but {values.shape[-2]} value vectors")
    out_dtype = torch.promote_types(weights.dtype, values.dtype)
    w = weights.to(torch.float64)
    v = values.to(torch.float64)
    if w.dim() == 1:
        z = torch.einsum("t,...td->...d", w, v)
    else:
        z = torch.einsum("...qt,...td->...qd", w, v)
    return z.to(out_dtype)
