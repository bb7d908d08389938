"""Notebook 10_causal_mask: its authored cells (format: autograder/notebooks/source.py)."""

# %% [markdown]
# # Step 11 · Causal masks
#
# Causal attention hides, for every query $i$, the keys $j > i$ that come after it: the
# strictly upper triangle of the $T \times T$ attention matrix. The article shows two ways to do
# it with a **mask**:
#
# 1. **Mask the weights, then renormalize.** Compute the ordinary attention weights, multiply
#    them by a lower-triangular matrix of ones (`torch.tril`) so that the entries above the
#    diagonal become 0, then divide every row by its sum so that it sums to 1 again.
# 2. **Mask the scores with $-\infty$.** Set the scores above the diagonal to $-\infty$
#    *before* the softmax. Since $e^{-\infty} = 0$, the softmax gives those keys weight 0 and
#    normalizes over the others in one pass:
#
# $$\alpha = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}} + M\right),\qquad
#   M_{ij} = \begin{cases} 0 & j \le i \\ -\infty & j > i \end{cases}$$
#
# Both give exactly the same weights (the softmax is an exponential divided by a row sum), and
# the second is what real implementations use. A boolean `causal_mask(n)` marks the blocked
# entries: True where the key comes after the query.

# %% [setup]
# Run this cell first: it imports torch and the course's helpers (course_notebook.py, next to this notebook).
import matplotlib.pyplot as plt
import torch
from course_notebook import TOKENS, embedded_sentence, heatmap, projection_matrices

torch.set_printoptions(precision=4, sci_mode=False)

# %% [markdown]
# ## The mask, the masked scores, the causal weights
#
# For the sentence: the blocked entries (left), the scores with $-\infty$ above the diagonal
# (middle), and the causal attention weights (right). Row `The` attends only to itself; row
# `east` attends to the whole sentence.

# %% [plot]
x = embedded_sentence()
W_query, W_key, W_value = projection_matrices()
scores = (x @ W_query) @ (x @ W_key).T / 2**0.5  # (6, 6), already divided by sqrt(d_k)
blocked = torch.ones(6, 6, dtype=torch.bool).triu(diagonal=1)  # True above the diagonal
masked = scores.masked_fill(blocked, float("-inf"))
causal_weights = torch.softmax(masked, dim=-1)
fig, axes = plt.subplots(1, 3, figsize=(17, 4.6))
mask_text = [["True" if b else "False" for b in row] for row in blocked.tolist()]
heatmap(torch.zeros(6, 6).masked_fill(blocked, float("nan")), TOKENS, TOKENS, ax=axes[0], text=mask_text,
        cmap="Greens", blocked_label="True: blocked (key after query)", title="causal mask")
heatmap(masked, TOKENS, TOKENS, ax=axes[1], title="scores / √d_k with -inf above the diagonal", cmap="RdBu_r")
heatmap(causal_weights, TOKENS, TOKENS, ax=axes[2], title="causal weights: lower triangular, rows sum to 1")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Both ways give the same weights

# %%
weights = torch.softmax(scores, dim=-1)  # ordinary attention weights
i = 2  # the query `rises`: it may see keys 0, 1 and 2
seen = weights[i, : i + 1]  # way 1: keep the weights of keys 0..i ...
print(seen / seen.sum())  # ... and renormalize them
print(causal_weights[i, : i + 1])  # way 2 (the plot above) gives the same
print(causal_weights.sum(dim=-1))

# %% [markdown]
# `is_causal(matrix)` answers whether a matrix of scores or weights respects causality: every
# entry above the diagonal must be 0 (a weight) or $-\infty$ (a score). It accepts both because it
# cannot tell scores from weights; for scores alone, only $-\infty$ blocks a key (see the question
# below).

# %% [answer] causal_mask

# %% [tests] causal_mask

# %% [markdown]
# ## Question: which score matrix violates causality?
#
# Each of these $4 \times 4$ matrices holds attention scores, the input of the softmax: query $i$
# in row $i$, key $j$ in column $j$. A score of $-\infty$ blocks a key; any finite score, $0$
# included, lets the query see it ($e^0 = 1$). Exactly one matrix lets a query see a key that
# comes after it: which? Answer with its letter.

# %% [plot]
NEG_INF = float("-inf")  # minus infinity: a blocked score
candidates = {
    "A": torch.tensor([[1.2, NEG_INF, NEG_INF, NEG_INF], [0.3, 0.8, NEG_INF, NEG_INF],
                       [-0.5, 0.1, 2.0, NEG_INF], [0.4, 0.9, -1.1, 0.7]]),
    "B": torch.tensor([[1.0, NEG_INF, NEG_INF, NEG_INF], [0.5, 0.5, NEG_INF, NEG_INF],
                       [NEG_INF, 0.3, 0.5, NEG_INF], [NEG_INF, NEG_INF, 0.3, 0.4]]),
    "C": torch.tensor([[0.9, NEG_INF, NEG_INF, NEG_INF], [0.2, 1.1, NEG_INF, 0.6],
                       [-0.3, 0.4, 0.8, NEG_INF], [0.5, -0.2, 0.3, 1.0]]),
    "D": torch.tensor([[0.7, NEG_INF, NEG_INF, NEG_INF], [NEG_INF, 0.4, NEG_INF, NEG_INF],
                       [NEG_INF, NEG_INF, 1.3, NEG_INF], [NEG_INF, NEG_INF, NEG_INF, -0.2]]),
}
fig, axes = plt.subplots(1, 4, figsize=(16, 3.8))
for ax, (letter, matrix) in zip(axes, candidates.items(), strict=True):
    heatmap(matrix, range(4), range(4), ax=ax, decimals=1, title=f"matrix {letter}", cmap="RdBu_r")
fig.tight_layout()
plt.show()

# %% [question] non_causal_matrix

# %% [markdown]
# ## Question: what does the Mask term do?
#
# Causal attention is often written $\mathrm{softmax}\!\left(QK^\top / \sqrt{d} + \mathrm{Mask}\right)V$.
# What does the Mask term do? Answer with a letter.
#
# - **A.** It multiplies the attention weights of the tokens after each query by 0, after the
#   softmax, and leaves the other weights as they are.
# - **B.** It adds $-\infty$ to the scores of the keys that come after each query and 0 to the
#   others, so the softmax gives those keys weight exactly 0 and each row still sums to 1.
# - **C.** It adds a small constant to every score so that the softmax does not overflow.
# - **D.** It removes each query's own key (the diagonal), so that a token cannot attend to
#   itself.

# %% [question] mask_term
