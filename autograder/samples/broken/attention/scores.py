# Sample submission `broken`: this module is correct (a copy of complete_einsum/attention/scores.py below
# this header) and gets full marks, although other modules of this submission are broken.
"""Step 4: unnormalized attention scores."""

import torch


def attention_scores(queries, keys):
    """omega[..., i, j] = queries[..., i, :] . keys[..., j, :] (one query (d_k,) gives (..., T_k))."""
    if queries.dim() == 0 or keys.dim() < 2:
        raise ValueError(f"bad shapes: queries {tuple(queries.shape)}, keys {tuple(keys.shape)}")
    if queries.shape[-1] != keys.shape[-1]:
        raise ValueError(f"queries have d_k={queries.shape[-1]} but keys have d_k={keys.shape[-1]}")
    out_dtype = torch.promote_types(queries.dtype, keys.dtype)
    q = queries.to(torch.float64)
    k = keys.to(torch.float64)
    if q.dim() == 1:
        omega = torch.einsum("d,...kd->...k", q, k)
    else:
        omega = torch.einsum("...qd,...kd->...qk", q, k)
    return omega.to(out_dtype)
