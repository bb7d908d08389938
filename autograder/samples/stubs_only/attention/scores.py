# Sample submission `stubs_only`: a learner who submitted the stubs from exercises/attention unchanged
# (this header aside). Every test reads "not implemented yet" and the submission scores 0.
"""Step 4: unnormalized attention scores.

To decide how much token ``i`` should attend to token ``j``, self-attention compares the query
of ``i`` with the key of ``j`` by a dot product: ω_ij = q_i · k_j. In the article, the scores
of the second word are ``omega_2 = query_2 @ keys.T``: one score per key. Doing this for all
queries at once gives the ``T x T`` matrix ω = Q Kᵀ, row ``i`` holding the scores of query ``i``.

The scores are "unnormalized": they can be any real numbers. The next step turns them into
weights.
"""

import torch


def attention_scores(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Unnormalized attention scores ω: every query dotted with every key.

    Shapes:
        - one query ``(d_k,)`` and keys ``(..., T_k, d_k)`` give ``(..., T_k)``;
        - queries ``(..., T_q, d_k)`` and keys ``(..., T_k, d_k)`` give ``(..., T_q, T_k)``,
          with ``ω[..., i, j] = queries[..., i, :] · keys[..., j, :]``.

    Hint: ``keys.T`` only works for 2-D keys; ``transpose(-2, -1)`` swaps the last two
    dimensions whatever the batch dimensions are.
    """
    raise NotImplementedError("scores: attention_scores is not implemented yet")
