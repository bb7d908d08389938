"""Notebook 09_causal_pairs: its authored cells (format: autograder/notebooks/source.py)."""

# %% [markdown]
# # Step 10 · Which query–key pairs causal attention computes
#
# A language model writes text one token at a time, each new token chosen from the ones before
# it. When it processes the token at position $i$, it must not look at the tokens after $i$:
# they are what it is learning to predict. **Causal** (or masked) self-attention therefore lets
# the query at position $i$ attend only to the keys at positions $j \le i$: position 0 sees
# itself, position 1 sees positions 0 and 1, and so on.
#
# So causal attention computes only the dot products $q_i \cdot k_j$ with $j \le i$. For a
# sequence of $T$ tokens that is $1 + 2 + \dots + T = T(T+1)/2$ of them, about half of the
# $T^2$ that full self-attention computes.

# %% [setup]
# Run this cell first: it imports torch and the course's helpers (course_notebook.py, next to this notebook).
import matplotlib.pyplot as plt
import torch
from course_notebook import heatmap

# %% [markdown]
# ## The dot products for 7 tokens
#
# Row $i$ is the query at position $i$, column $j$ the key at position $j$. The grey hatched
# cells are never computed: there the key comes after the query.

# %% [plot]
T = 7
computed = torch.ones(T, T).tril()  # 1 where j <= i
labels = [[f"q{i}·k{j}" if j <= i else "" for j in range(T)] for i in range(T)]
shown = computed.masked_fill(computed == 0, float("nan"))
positions = [str(p) for p in range(T)]
heatmap(shown, positions, positions, text=labels, xlabel="key position j", ylabel="query position i",
        title=f"The {int(computed.sum())} query-key dot products of causal attention, T = {T}", cmap="Greens",
        blocked_label="never computed: the key comes after the query")
plt.show()

# %% [markdown]
# Counting the cells row by row gives 1, 2, ..., 7: 28 in all. Your `count_causal_pairs` must
# answer instantly even for $T = 10^9$, so it cannot build the list: use the sum's closed form.

# %%
per_row = computed.sum(dim=1)
print(per_row.tolist(), "->", int(per_row.sum()), "pairs, of", T * T)

# %% [answer] causal_pairs

# %% [tests] causal_pairs

# %% [markdown]
# ## Question
#
# Causal attention runs over a sequence of 8 tokens. To how many keys does the query at
# position 5 attend, its own key included (positions count from 0)? Answer with an int.

# %% [question] keys_for_query_5
