"""Notebook 02_embedding: its authored cells (format: autograder/notebooks/source.py)."""

# %% [markdown]
# # Step 2 · Token ids to embeddings
#
# A token id is just a row number. An **embedding layer** is a table with one vector per token
# of the vocabulary, and embedding a sentence means looking up the rows of its token ids: the
# ids `[0, 4, 3, 2, 5, 1]` become six vectors, one per word, in the sentence's order.
#
# The article uses `torch.nn.Embedding(50_000, 3)`: room for a 50,000-token vocabulary (a
# realistic size) with tiny 3-dimensional vectors, so that every number can be printed and
# followed by hand. It calls `torch.manual_seed(123)` first, so everyone gets the same table; the
# vector of `The` (id 0) is then `[0.3374, -0.1778, -0.3035]`.
#
# In a trained LLM these vectors are learned. Here they stay random, which is all we need to
# see self-attention at work, and we return them *detached*: plain numbers, without the
# layer's gradient bookkeeping.

# %% [setup]
# Run this cell first: it imports torch and the course's helpers (course_notebook.py, next to this notebook).
import matplotlib.pyplot as plt
import torch
from course_notebook import TOKENS, embedded_sentence, heatmap

torch.set_printoptions(precision=4, sci_mode=False)

# %% [markdown]
# ## Looking rows up
#
# Indexing a 2-D tensor with a tensor of ids picks those rows, in that order, repeats allowed.
# Here is a toy table with 4 tokens and 3 dimensions:

# %%
table = torch.arange(12.0).reshape(4, 3)  # 4 tokens, 3 dimensions
print(table)
print(table[torch.tensor([2, 0, 2])])  # the rows of ids 2, 0 and 2

# %% [markdown]
# ## The sentence as vectors
#
# These are the six vectors your `embed` will return for the sentence (computed here with
# torch's own random numbers, so that the picture works before you write any code). Each row is
# one word; `The` and `the` are different tokens, so they get different vectors.

# %% [plot]
x = embedded_sentence()
print(x[0])  # "The"
heatmap(x, TOKENS, ["dim 0", "dim 1", "dim 2"], xlabel="embedding dimension", ylabel="token",
        title="The sentence, embedded: 6 tokens x 3 dimensions", cmap="RdBu")
plt.show()

# %% [markdown]
# `torch.manual_seed(123)` makes the layer's random initial weights the same on every run.
# Seeding must come right before the layer is created: anything drawn in between would shift
# the numbers.

# %%
torch.manual_seed(123)
first = torch.rand(2)
torch.manual_seed(123)
again = torch.rand(2)
print(first, again, torch.equal(first, again))

# %% [answer] embedding

# %% [tests] embedding
