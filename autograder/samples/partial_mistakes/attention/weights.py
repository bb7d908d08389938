# Sample submission `partial_mistakes`, step 5. PLANTED MISTAKE: the softmax runs over dim=-2 (the
# queries) instead of dim=-1 (the keys), so the columns sum to 1 instead of the rows. The grader
# names it: "softmax over the wrong dimension".
"""Step 5: attention weights, a scaled softmax."""

import torch


def attention_weights(scores, d_k):
    return torch.softmax(scores / d_k**0.5, dim=-2)
