"""Notebook 07_self_attention_and_heads: its authored cells (format: autograder/notebooks/source.py)."""

# %% [markdown]
# # Steps 7 and 8 · A self-attention module, then many heads
#
# Steps 3 to 6 together are one self-attention layer. The article packages them as a PyTorch
# module, `SelfAttention(d_in, d_out_kq, d_out_v)`: its trainable parameters are the three
# projection matrices, and its `forward` computes, for all tokens at once,
#
# $$Q = X W_q,\quad K = X W_k,\quad V = X W_v,$$
#
# $$Z = \mathrm{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V .$$
#
# It is called *self*-attention because queries, keys and values all come from the same
# sequence $X$. With `torch.manual_seed(123)` and `SelfAttention(3, 2, 4)`, the embedded sentence
# gives a $6 \times 4$ output whose row 1 (`sun`) is the context vector of step 6,
# `[0.5313, 1.3607, 0.7891, 1.3110]`.

# %% [setup]
# Run this cell first: it imports torch and the course's helpers (course_notebook.py, next to this notebook).
import matplotlib.pyplot as plt
import torch
from course_notebook import TOKENS, embedded_sentence, heatmap, projection_matrices

torch.set_printoptions(precision=4, sci_mode=False)

# %% [markdown]
# ## The whole computation in four lines
#
# This is what `SelfAttention.forward` does, written for one sequence with the article's
# matrices. Your module must also take a batch of sequences `(B, T, d_in)`: remember that `.T`
# only transposes a 2-D tensor.

# %%
x = embedded_sentence()
W_query, W_key, W_value = projection_matrices()
queries, keys, values = x @ W_query, x @ W_key, x @ W_value
z = torch.softmax(queries @ keys.T / 2**0.5, dim=-1) @ values
print(z.shape)
print(z[1])

# %% [answer] self_attention

# %% [tests] self_attention

# %% [markdown]
# # Step 8 · Multi-head attention
#
# One head learns one way for tokens to attend to each other. **Multi-head attention** runs
# several heads side by side, each with its own `W_query`, `W_key` and `W_value`, and
# concatenates their context vectors: with 4 heads and $d_v = 4$, every token gets a
# 16-dimensional output.
#
# The article first writes this literally, as a `MultiHeadAttentionWrapper` holding an
# `nn.ModuleList` of `SelfAttention` heads. Here are the four heads' outputs for the sentence,
# the heads made one after another after `torch.manual_seed(123)` (head 0 is the module above):

# %% [plot]
generator = torch.Generator().manual_seed(123)
fig, axes = plt.subplots(1, 4, figsize=(10.5, 4.4), sharey=True)  # (6, 4) panels: tall, close together
outputs = []
for head, ax in enumerate(axes):
    w_q, w_k, w_v = (torch.rand(shape, generator=generator) for shape in ((3, 2), (3, 2), (3, 4)))
    out = torch.softmax((x @ w_q) @ (x @ w_k).T / 2**0.5, dim=-1) @ (x @ w_v)
    outputs.append(out)
    columns = [str(4 * head + d) for d in range(4)]
    heatmap(out, TOKENS, columns, ax=ax, title=f"head {head}: columns {columns[0]}-{columns[-1]}",
            xlabel="output column", ylabel="token" if head == 0 else "")
fig.suptitle("Multi-head attention, 4 heads: the output (6 x 16) is the heads' outputs side by side")
fig.tight_layout(w_pad=0.4)
plt.show()
print([tuple(out.shape) for out in outputs], "side by side -> (6, 16)")  # the wrapper's output

# %% [markdown]
# ## The efficient form
#
# Looping over heads repeats the same small matrix products. `MultiHeadAttention` stores the
# heads' matrices side by side in one wide matrix per projection (head $h$ owns column block
# $h$), so a single product projects every token for every head. Reshaping then splits the
# columns into heads, and moving the head dimension in front of the tokens lets one batched
# matrix product run attention for all heads at once:
#
# `(T, heads * d)` → `(T, heads, d)` → `(heads, T, d)`
#
# Here is the split on a toy tensor: 2 tokens, 3 heads of 2 columns each.

# %%
wide = torch.arange(12).reshape(2, 6)  # 2 tokens x (3 heads * 2 columns)
print(wide)
per_head = wide.reshape(2, 3, 2).transpose(0, 1)  # (T, heads, d) -> (heads, T, d)
print(per_head[1])  # head 1: columns 2 and 3 of both tokens

# %% [markdown]
# Merging is the reverse: move the heads back after the tokens, then flatten the last two
# dimensions. Reshaping straight from `(heads, T, d)` to `(T, heads * d)` mixes the heads up.
# `MultiHeadAttention.from_wrapper(wrapper)` builds the efficient module from a wrapper, with
# the same output.

# %% [answer] multi_head

# %% [tests] multi_head
