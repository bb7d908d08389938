"""Notebook 06_context: its authored cells (format: autograder/notebooks/source.py)."""

# %% [markdown]
# # Step 6 · Context vectors
#
# The output of attention for token $i$ is its **context vector**: the value vectors of all
# tokens, averaged with token $i$'s attention weights,
#
# $$z_i = \sum_j \alpha_{ij}\, v_j .$$
#
# In the article, `context_vector_2 = attn_weights_2 @ values` is the context vector of `sun`.
# For all tokens at once it is the matrix product $Z = A V$: row $i$ of $A$ weights the rows of
# $V$. With $d_v = 4$, every token now has a 4-dimensional vector that mixes in the tokens it
# attends to.

# %% [setup]
# Run this cell first: it imports torch and the course's helpers (course_notebook.py, next to this notebook).
import matplotlib.pyplot as plt
import torch
from course_notebook import TOKENS, embedded_sentence, heatmap, projection_matrices

torch.set_printoptions(precision=4, sci_mode=False)

# %% [markdown]
# ## The context vector of `sun`, as a weighted sum
#
# `sun` gives 69% of its attention to itself and 15% to `east`, so its context vector is mostly
# its own value vector with a share of `east`'s. The result is the article's
# `[0.5313, 1.3607, 0.7891, 1.3110]`.

# %%
x = embedded_sentence()
W_query, W_key, W_value = projection_matrices()
queries, keys, values = x @ W_query, x @ W_key, x @ W_value
weights = torch.softmax(queries @ keys.T / 2**0.5, dim=-1)
z_2 = sum(weights[1, j] * values[j] for j in range(len(TOKENS)))
print(z_2)

# %% [markdown]
# ## Values in, context vectors out
#
# Left: every token's value vector. Right: every token's context vector, each row a blend of
# the rows on the left.

# %% [plot]
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
dims = [f"dim {d}" for d in range(4)]
heatmap(values, TOKENS, dims, ax=left, title="values V (6 x 4)", xlabel="value dimension", ylabel="token",
        cmap="RdBu_r")
context = torch.stack([sum(weights[i, j] * values[j] for j in range(6)) for i in range(6)])  # z_i for every token
heatmap(context, TOKENS, dims, ax=right, title="context vectors z_i = Σ_j α_ij v_j (6 x 4)",
        xlabel="value dimension", ylabel="token", cmap="RdBu_r")
fig.tight_layout()
plt.show()

# %% [answer] context

# %% [tests] context
