# Sample submission `partial_mistakes`, step 6 (correct): full marks.
"""Step 6: context vectors."""

import torch


def context_vectors(weights, values):
    if weights.shape[-1] != values.shape[-2]:
        raise ValueError("one weight per value vector is needed")
    return weights @ values
