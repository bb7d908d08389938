# Sample submission `broken`, step 5. BREAKS: a debugging `sys.exit()` left inside
# attention_weights ends the program at the first call. The grader reports that the function
# raised SystemExit (with the file and line) and gives this step 0; the other steps are unaffected.
"""Step 5: attention weights, a scaled softmax."""

import math
import sys

import torch


def attention_weights(scores, d_k):
    """softmax(scores / sqrt(d_k)) over the last dimension, by hand."""
    scaled = scores.to(torch.float64) / math.sqrt(d_k)
    print("scaled scores:", tuple(scaled.shape))
    sys.exit()  # stop here while debugging  (forgot to remove it)
    exps = torch.exp(scaled - scaled.amax(dim=-1, keepdim=True))
    return (exps / exps.sum(dim=-1, keepdim=True)).to(scores.dtype)
