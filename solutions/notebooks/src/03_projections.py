"""Notebook 03_projections: its authored cells (format: autograder/notebooks/source.py)."""

# %% [markdown]
# # Step 3 · Queries, keys and values
#
# Self-attention gives every token three roles, each computed from the token's embedding $x$ by
# its own trainable weight matrix:
#
# - a **query** $q = x W_q$: what this token is looking for;
# - a **key** $k = x W_k$: what it offers, to be matched against the queries;
# - a **value** $v = x W_v$: what it contributes once it is matched.
#
# Queries and keys are compared by dot products, so they have the same size $d_q = d_k$; values
# may have another size $d_v$. The article uses $d_{in} = 3$ (the embedding size),
# $d_q = d_k = 2$ and $d_v = 4$, so `W_query` and `W_key` are $3 \times 2$ and `W_value` is
# $3 \times 4$. It draws them with `torch.rand` (uniform in $[0, 1)$) after
# `torch.manual_seed(123)`, in the order `W_query`, `W_key`, `W_value`, and wraps them in
# `nn.Parameter`, which marks a tensor as trainable.

# %% [setup]
# Run this cell first: it imports torch and the course's helpers (course_notebook.py, next to this notebook).
import matplotlib.pyplot as plt
import torch
from course_notebook import embedded_sentence, heatmap, projection_matrices

torch.set_printoptions(precision=4, sci_mode=False)

# %% [markdown]
# ## The three matrices
#
# Each matrix maps the 3 embedding dimensions (rows) to its output dimensions (columns).

# %% [plot]
W_query, W_key, W_value = projection_matrices()
fig, axes = plt.subplots(1, 3, figsize=(11, 3), gridspec_kw={"width_ratios": [2, 2, 4]})
for ax, (name, matrix) in zip(axes, {"W_query": W_query, "W_key": W_key, "W_value": W_value}.items(), strict=True):
    heatmap(matrix, ["in 0", "in 1", "in 2"], [f"out {j}" for j in range(matrix.shape[1])], ax=ax,
            title=f"{name} {tuple(matrix.shape)}", xlabel="output dimension", ylabel="embedding dimension")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## One token's query, key and value
#
# The article follows the second word, `sun` (index 1). Its query, key and value are its
# embedding times each matrix: a 3-vector times a $3 \times d$ matrix gives a $d$-vector.

# %%
x = embedded_sentence()
x_2 = x[1]  # "sun"
print("query_2:", x_2 @ W_query)  # (2,)
print("key_2:  ", x_2 @ W_key)  # (2,)
print("value_2:", x_2 @ W_value)  # (4,)

# %% [markdown]
# ## Why the order of the draws matters
#
# After a seed, `torch.rand` returns the next numbers of one fixed random sequence. The matrix
# drawn first gets the first numbers, so drawing `W_key` before `W_query` swaps their values.

# %%
torch.manual_seed(123)
drawn_first = torch.rand(3, 2)
drawn_second = torch.rand(3, 2)
print(torch.equal(drawn_first, W_query), torch.equal(drawn_second, W_key))

# %% [markdown]
# `project_qkv` does this for every token at once: the rows of `x` are the tokens, and the
# `@` operator multiplies the last dimension of `x` with the matrix, keeping any leading (batch)
# dimensions.

# %% [answer] projections

# %% [tests] projections
