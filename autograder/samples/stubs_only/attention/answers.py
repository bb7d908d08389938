# Sample submission `stubs_only`: a learner who submitted the stubs from exercises/attention unchanged
# (this header aside). Every test reads "not implemented yet" and the submission scores 0.
"""Your answers to the concept questions of the notebooks, for when you hand in this package.

Replace each ``...`` with your answer: a plain value (a number, a letter in quotes such as "B",
a list such as [0, 1]). The value is read, never run, so an expression such as ``2 * 3`` or a
function call counts as no answer. Each question is worth the points it says, as in the
notebooks; if you answer in the notebooks instead, hand them in too (an answer here counts first).
"""


# Step 10 (causal_pairs), 1 point; the question of 09_causal_pairs.ipynb:
#
# ## Question
#
# Causal attention runs over a sequence of 8 tokens. To how many keys does the query at
# position 5 attend, its own key included (positions count from 0)? Answer with an int.
keys_for_query_5 = ...  # replace ... with your answer: an int


# Step 11 (causal_mask), 1 point; the question of 10_causal_mask.ipynb:
#
# ## Question: which score matrix violates causality?
#
# Each of these $4 \times 4$ matrices holds attention scores, the input of the softmax: query $i$
# in row $i$, key $j$ in column $j$. A score of $-\infty$ blocks a key; any finite score, $0$
# included, lets the query see it ($e^0 = 1$). Exactly one matrix lets a query see a key that
# comes after it: which? Answer with its letter.
#
# The notebook draws a picture of this from:
#     NEG_INF = float("-inf")  # minus infinity: a blocked score
#     candidates = {
#         "A": torch.tensor([[1.2, NEG_INF, NEG_INF, NEG_INF], [0.3, 0.8, NEG_INF, NEG_INF],
#                            [-0.5, 0.1, 2.0, NEG_INF], [0.4, 0.9, -1.1, 0.7]]),
#         "B": torch.tensor([[1.0, NEG_INF, NEG_INF, NEG_INF], [0.5, 0.5, NEG_INF, NEG_INF],
#                            [NEG_INF, 0.3, 0.5, NEG_INF], [NEG_INF, NEG_INF, 0.3, 0.4]]),
#         "C": torch.tensor([[0.9, NEG_INF, NEG_INF, NEG_INF], [0.2, 1.1, NEG_INF, 0.6],
#                            [-0.3, 0.4, 0.8, NEG_INF], [0.5, -0.2, 0.3, 1.0]]),
#         "D": torch.tensor([[0.7, NEG_INF, NEG_INF, NEG_INF], [NEG_INF, 0.4, NEG_INF, NEG_INF],
#                            [NEG_INF, NEG_INF, 1.3, NEG_INF], [NEG_INF, NEG_INF, NEG_INF, -0.2]]),
#     }
#     fig, axes = plt.subplots(1, 4, figsize=(16, 3.8))
#     for ax, (letter, matrix) in zip(axes, candidates.items(), strict=True):
#         heatmap(matrix, range(4), range(4), ax=ax, decimals=1, title=f"matrix {letter}", cmap="RdBu_r")
#     fig.tight_layout()
#     plt.show()
non_causal_matrix = ...  # replace ... with your answer: one letter, such as 'A'


# Step 11 (causal_mask), 1 point; the question of 10_causal_mask.ipynb:
#
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
mask_term = ...  # replace ... with your answer: one letter, such as 'A'


# Step 12 (causal_attention), 1 point; the question of 11_causal_attention_and_kv_cache.ipynb:
#
# ## Question
#
# Causal self-attention runs over the six tokens of the sentence. Which keys and values does
# the query at position 4 use, its own included (positions count from 0)? Answer with the list
# of their positions.
positions_for_query_4 = ...  # replace ... with your answer: a list of positions (ints), such as [0, 1]
