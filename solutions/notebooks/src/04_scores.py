"""Notebook 04_scores: its authored cells (format: autograder/notebooks/source.py)."""

# %% [markdown]
# # Step 4 · Unnormalized attention scores
#
# How much should token $i$ attend to token $j$? Self-attention answers with a dot product
# between the query of $i$ and the key of $j$:
#
# $$\omega_{ij} = q_i \cdot k_j$$
#
# For the second word, `sun`, the article computes one score per key: `omega_2 = query_2 @
# keys.T`. Doing this for every query at once gives the $T \times T$ matrix
# $\Omega = Q K^\top$, whose row $i$ holds the scores of query $i$ against all keys.
#
# The scores are *unnormalized*: any real numbers. The next step turns each row into weights.

# %% [setup]
# Run this cell first: it imports torch and the course's helpers (course_notebook.py, next to this notebook).
import matplotlib.pyplot as plt
import torch
from course_notebook import TOKENS, embedded_sentence, heatmap, projection_matrices

torch.set_printoptions(precision=4, sci_mode=False)

# %% [markdown]
# ## The scores of `sun`, one dot product at a time

# %%
x = embedded_sentence()
W_query, W_key, W_value = projection_matrices()
queries, keys = x @ W_query, x @ W_key  # (6, 2) each: one row per token
omega_2 = torch.stack([torch.dot(queries[1], keys[j]) for j in range(len(TOKENS))])
print(omega_2)
print("the largest score of 'sun' is for", TOKENS[int(omega_2.argmax())])

# %% [markdown]
# ## All scores at once
#
# Row `sun` of this matrix is the vector above. Your `attention_scores` computes it as one
# matrix product; it also takes a single query vector `(d_k,)` (one score per key) and batches
# of sequences, `(..., T, d_k)`.

# %% [plot]
omega = queries @ keys.T  # (6, 6)
heatmap(omega, TOKENS, TOKENS, title="Unnormalized attention scores ω = Q Kᵀ", cmap="RdBu_r")
plt.show()

# %% [markdown]
# `keys.T` only works for one sequence: with a batch dimension, `(B, T, d_k)`, you need to swap
# the *last two* dimensions.

# %%
batch = torch.stack([keys, keys.flip(0)])  # (2, 6, 2)
print(batch.transpose(1, 2).shape)  # here the last two dimensions are 1 and 2; in general, count from the end

# %% [answer] scores

# %% [tests] scores
