"""Notebook 08_cross_attention: its authored cells (format: autograder/notebooks/source.py)."""

# %% [markdown]
# # Step 9 · Cross-attention
#
# Self-attention takes its queries, keys and values from one sequence. **Cross-attention**
# mixes two: the queries come from a first sequence $X_1$, the keys and values from a second
# sequence $X_2$:
#
# $$Q = X_1 W_q,\quad K = X_2 W_k,\quad V = X_2 W_v,$$
#
# $$Z = \mathrm{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V$$
#
# The original transformer uses it in its decoder: the text being generated (queries) looks at
# the encoded source sentence (keys and values). Stable Diffusion uses it to let image features
# attend to a text prompt.
#
# The two sequences may have different lengths $T_1$ and $T_2$ but share the embedding size
# $d_{in}$. The attention weights are then a $T_1 \times T_2$ rectangle, one row per query, and
# the output has one row per token of $X_1$: $(T_1, d_v)$.

# %% [setup]
# Run this cell first: it imports torch and the course's helpers (course_notebook.py, next to this notebook).
import matplotlib.pyplot as plt
import torch
from course_notebook import TOKENS, embedded_sentence, heatmap, projection_matrices

torch.set_printoptions(precision=4, sci_mode=False)

# %% [markdown]
# ## Six queries, eight keys
#
# The sentence provides the queries ($T_1 = 6$); a second sequence of 8 random 3-dimensional
# vectors provides the keys and values ($T_2 = 8$), with the article's matrices.

# %% [plot]
x_1 = embedded_sentence()  # (6, 3): the queries' sequence
x_2 = torch.randn(8, 3, generator=torch.Generator().manual_seed(0))  # (8, 3): keys and values
W_query, W_key, W_value = projection_matrices()
weights = torch.softmax((x_1 @ W_query) @ (x_2 @ W_key).T / 2**0.5, dim=-1)  # (6, 8)
heatmap(weights, TOKENS, [f"x_2[{j}]" for j in range(8)], xlabel="key (from x_2)", ylabel="query (from x_1)",
        title="Cross-attention weights: 6 queries x 8 keys, rows sum to 1")
plt.show()

# %%
context = weights @ (x_2 @ W_value)
print(context.shape)  # one context vector per query token of x_1

# %% [markdown]
# When both inputs are the same sequence, cross-attention *is* self-attention with the same
# matrices.

# %% [answer] cross_attention

# %% [tests] cross_attention
