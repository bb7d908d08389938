"""Step 6: context vectors.

The output of attention for token ``i`` is its context vector: the average of all value
vectors, weighted by that token's attention weights, z_i = Σ_j α_ij v_j. In the article,
``context_vector_2 = attn_weights_2 @ values`` is the context vector of the second word; for
all tokens at once it is Z = A V. With d_v = 4, every token now has a 4-dimensional vector
that mixes in information from the tokens it attends to.
"""

import torch


def context_vectors(weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """The weighted sums of the value vectors, ``weights @ values``.

    Shapes:
        - one weight row ``(T,)`` and values ``(T, d_v)`` give one context vector ``(d_v,)``;
        - weights ``(..., T_q, T)`` and values ``(..., T, d_v)`` give ``(..., T_q, d_v)``.

    Hint: row ``i`` of the result is ``sum_j weights[i, j] * values[j]``, a matrix product.
    """
    ### BEGIN SOLUTION
    if weights.dim() == 0 or values.dim() < 2:
        raise ValueError(
            f"expected weights (..., T) and values (..., T, d_v), got shapes "
            f"{tuple(weights.shape)} and {tuple(values.shape)}"
        )
    if weights.shape[-1] != values.shape[-2]:
        raise ValueError(
            f"weights have {weights.shape[-1]} entries per row but there are {values.shape[-2]} value vectors"
        )
    return weights @ values  # (..., T_q, T) @ (..., T, d_v) -> (..., T_q, d_v)
    ### END SOLUTION
