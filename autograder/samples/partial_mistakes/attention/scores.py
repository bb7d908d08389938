# Sample submission `partial_mistakes`, step 4 (correct): full marks.
"""Step 4: unnormalized attention scores."""

import torch


def attention_scores(queries, keys):
    if queries.dim() == 1:
        return keys @ queries
    return queries @ keys.transpose(-2, -1)
