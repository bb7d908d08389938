"""Notebook 11_causal_attention_and_kv_cache: its authored cells (format: autograder/notebooks/source.py)."""

# %% [markdown]
# # Steps 12 and 13 · Causal self-attention, then decoding with a KV cache
#
# With a causal mask, the output of token $i$ only mixes the values of tokens $0 \dots i$:
#
# $$z_i = \sum_{j \le i} \alpha_{ij}\, v_j$$
#
# so a model that predicts the next word never peeks at it. The article's
# `CausalSelfAttention` is `SelfAttention` plus a mask that it registers as a **buffer**: a
# tensor that belongs to the module (it moves with `.to(device)` and is saved in the
# `state_dict`) but is not trained. The buffer is built once, for the longest sequence the
# module accepts (`context_length`); `forward` uses its top-left $T \times T$ corner for a
# sequence of $T$ tokens.

# %% [setup]
# Run this cell first: it imports torch and the course's helpers (course_notebook.py, next to this notebook).
import matplotlib.pyplot as plt
import torch
from course_notebook import TOKENS, embedded_sentence, heatmap, projection_matrices

torch.set_printoptions(precision=4, sci_mode=False)

# %% [markdown]
# ## One token's output, by hand
#
# Token 2 has three weights, for tokens 0, 1 and 2; the value rows after it are never used:
#
# $z_2 = 0.1 \cdot [1, 2] + 0.6 \cdot [3, 0] + 0.3 \cdot [4, 5] = [3.1, 1.7]$

# %%
weights_row = torch.tensor([0.1, 0.6, 0.3])
values = torch.tensor([[1.0, 2.0], [3.0, 0.0], [4.0, 5.0], [9.0, 9.0]])  # the last row comes later
print(weights_row[0] * values[0] + weights_row[1] * values[1] + weights_row[2] * values[2])

# %% [markdown]
# ## The sentence, causally
#
# The causal weights of the sentence (left) and the causal outputs (right): the output of `The`
# is its own value vector, and each later row mixes in one more token.

# %% [plot]
x = embedded_sentence()
W_query, W_key, W_value = projection_matrices()
queries, keys, values = x @ W_query, x @ W_key, x @ W_value
blocked = torch.ones(6, 6, dtype=torch.bool).triu(diagonal=1)
causal_weights = torch.softmax((queries @ keys.T / 2**0.5).masked_fill(blocked, float("-inf")), dim=-1)
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.4), gridspec_kw={"width_ratios": [6, 4]})
heatmap(causal_weights, TOKENS, TOKENS, ax=left, title="causal attention weights")
heatmap(causal_weights @ values, TOKENS, [f"dim {d}" for d in range(4)], ax=right, xlabel="value dimension",
        ylabel="token", title="causal outputs (6 x 4)", cmap="RdBu_r")
fig.tight_layout()
plt.show()

# %% [answer] causal_attention

# %% [tests] causal_attention

# %% [markdown]
# ## Question
#
# Causal self-attention runs over the six tokens of the sentence. Which keys and values does
# the query at position 4 use, its own included (positions count from 0)? Answer with the list
# of their positions.

# %% [question] positions_for_query_4

# %% [markdown]
# # Step 13 · Decoding with a KV cache
#
# A language model generates text one token at a time, running causal attention once per new
# token. Token $t$'s output needs only its own query and the keys and values of tokens
# $0 \dots t$, and the keys and values of the earlier tokens do not change when a new token
# arrives (causal masking guarantees it). So instead of recomputing them for the whole sequence
# at every step, a decoder keeps them in a **key–value cache**. Each step
#
# 1. projects only the new token to its query, key and value,
# 2. appends the key and value to the cache,
# 3. compares the query with the $t + 1$ cached keys and averages the cached values.
#
# Step $t$ then costs $t + 1$ query–key dot products instead of a full causal pass, and gives
# exactly row $t$ of `CausalSelfAttention` on the whole sequence.

# %% [plot]
steps = torch.arange(1, 7)
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
cache = torch.ones(6, 6).tril().masked_fill(blocked, float("nan"))
labels = [[f"k{j},v{j}" if j <= t else "" for j in range(6)] for t in range(6)]
heatmap(cache, [f"step {t}: {TOKENS[t]}" for t in range(6)], range(6), ax=left, text=labels, cmap="Greens",
        xlabel="cache position", ylabel="decoding step", title="what the cache holds at each step",
        blocked_label="not in the cache yet")
right.bar(steps - 0.2, steps, width=0.4, label="with a KV cache: t + 1")
right.bar(steps + 0.2, steps * (steps + 1) // 2, width=0.4, label="recomputing causal attention: (t+1)(t+2)/2")
right.set_xticks(steps, labels=[str(t) for t in range(6)])
right.set_xlabel("decoding step t")
right.set_ylabel("query-key dot products")
right.set_title("cost of one decoding step")
right.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# `decode_step(attn, x_t, cache)` reuses your earlier steps: the scores of one query against
# the cached keys (step 4), the scaled softmax (step 5), the weighted sum of the cached values
# (step 6). No mask is needed: the cache only holds tokens up to the current one.

# %% [answer] kv_cache

# %% [tests] kv_cache
