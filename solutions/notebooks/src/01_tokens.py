"""Notebook 01_tokens: its authored cells (format: autograder/notebooks/source.py)."""

# %% [markdown]
# # Step 1 · Words to token ids
#
# This course builds self-attention, the mechanism inside every large language model, one small
# piece at a time. It follows Sebastian Raschka's article *Understanding and Coding
# Self-Attention, Multi-Head Attention, Causal-Attention, and Cross-Attention in LLMs*, and its
# running example is one sentence:
#
# > **The sun rises in the east**
#
# Self-attention computes with vectors, so the first step turns words into numbers. The article
# keeps this as simple as possible: the vocabulary is made of the sentence's own words, and every
# distinct word, in sorted order, gets the next integer id:
#
# | word | `The` | `east` | `in` | `rises` | `sun` | `the` |
# |---|---|---|---|---|---|---|
# | id | 0 | 1 | 2 | 3 | 4 | 5 |
#
# The sentence then becomes its **token ids**, one per word in the sentence's order:
# `[0, 4, 3, 2, 5, 1]`. `The` and `the` are two different words.
#
# Real LLMs use a subword tokenizer (byte-pair encoding) with tens of thousands of tokens. The
# idea is the same: text in, a sequence of integer ids out.

# %% [setup]
# Run this cell first: it imports torch and the course's helpers (course_notebook.py, next to this notebook).
import torch
from course_notebook import SENTENCE

# %% [markdown]
# ## Why does `The` come before `east`?
#
# Python compares strings character by character, by their Unicode code points, and the
# uppercase letters (`A` to `Z` are 65 to 90) all come before the lowercase ones (`a` to `z` are
# 97 to 122). `str.split()` without arguments cuts a text at every run of whitespace.

# %%
print(sorted(["sun", "the", "east", "The"]))
print({letter: ord(letter) for letter in "Tet"})
print(SENTENCE.split())

# %% [markdown]
# ## Ids as a tensor
#
# The next step looks the ids up in an embedding table, which wants an integer tensor (int64,
# `torch.long`). Careful with the empty text: `torch.tensor([])` is a float tensor unless you ask
# for another dtype.

# %%
ids = torch.tensor([0, 4, 3, 2, 5, 1])
print(ids, ids.dtype)
print(torch.tensor([]).dtype, "versus", torch.tensor([], dtype=torch.long).dtype)

# %% [markdown]
# A word that is not in the vocabulary has no id: `encode` raises a `KeyError` that names the
# word, so that the mistake is easy to find.

# %% [answer] tokens

# %% [tests] tokens
