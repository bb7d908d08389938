"""Notebook 05_weights: its authored cells (format: autograder/notebooks/source.py)."""

# %% [markdown]
# # Step 5 · Attention weights: a scaled softmax
#
# The scores $\omega$ become **attention weights** $\alpha$ by a softmax over the keys: each
# query's weights are positive and sum to 1, so they say which share of its attention goes to
# each token.
#
# Before the softmax the article divides the scores by $\sqrt{d_k}$:
#
# $$\alpha = \mathrm{softmax}\!\left(\frac{\omega}{\sqrt{d_k}}\right)$$
#
# Dot products of $d_k$-dimensional vectors grow with $d_k$. Large scores push the softmax into
# a corner where one weight is almost 1 and the others almost 0, and training stalls because
# the gradients vanish. Dividing by $\sqrt{d_k}$ keeps the scores in a range where the softmax
# still responds: this is the *scaled* in scaled dot-product attention.

# %% [setup]
# Run this cell first: it imports torch and the course's helpers (course_notebook.py, next to this notebook).
import matplotlib.pyplot as plt
import torch
from course_notebook import TOKENS, embedded_sentence, heatmap, projection_matrices

torch.set_printoptions(precision=4, sci_mode=False)

# %% [markdown]
# ## The weights of `sun`
#
# With $d_k = 2$, the scores of `sun` from step 4 are divided by $\sqrt 2$ and passed through
# the softmax, written out here: exp of each score minus the largest, divided by their sum (the same
# weights, and exp never overflows). `sun` attends mostly to itself, then to `east`.

# %%
x = embedded_sentence()
W_query, W_key, W_value = projection_matrices()
queries, keys = x @ W_query, x @ W_key
omega_2 = queries[1] @ keys.T
d_k = keys.shape[-1]
scaled = omega_2 / d_k**0.5
exps = torch.exp(scaled - scaled.max())  # softmax by hand; subtracting the maximum keeps exp finite
weights_2 = exps / exps.sum()
print(weights_2, "sum:", float(weights_2.sum()))

# %% [markdown]
# ## All six rows
#
# Each row is one query (a token looking at the sentence) and sums to 1. Softmax runs along the
# keys, the *last* dimension: with `dim=0` the columns would sum to 1 instead.

# %% [plot]
weights = torch.softmax(queries @ keys.T / d_k**0.5, dim=-1)  # (6, 6)
heatmap(weights, TOKENS, TOKENS, title="Attention weights α = softmax(ω / √d_k): rows sum to 1")
plt.show()

# %% [markdown]
# ## What the scaling prevents
#
# The same three scores, multiplied by 10 as if $d_k$ were much larger, saturate the softmax.

# %% [plot]
scores = torch.tensor([1.0, 2.0, 3.0])
rows = torch.stack([torch.softmax(scores, 0), torch.softmax(10 * scores, 0)])
heatmap(rows, ["scores", "scores x 10"], ["key 0", "key 1", "key 2"], xlabel="key", ylabel="",
        title="softmax of small and large scores")
plt.show()

# %% [answer] weights

# %% [tests] weights
