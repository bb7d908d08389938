# Sample submission `stubs_only`: a learner who submitted the stubs from exercises/attention unchanged
# (this header aside). Every test reads "not implemented yet" and the submission scores 0.
"""From self-attention to causal self-attention: the ``attention`` package.

One module per step, in course order (the step table of README.md). Each step builds on the ideas of
the earlier ones, following Sebastian Raschka's article "Understanding and Coding
Self-Attention, Multi-Head Attention, Causal-Attention, and Cross-Attention in LLMs" and its
running example, the sentence "The sun rises in the east" with 3-dimensional embeddings,
d_q = d_k = 2 and d_v = 4.

 1. ``tokens``           words to token ids: ``build_vocab``, ``encode``
 2. ``embedding``        token ids to embedding vectors: ``embed``
 3. ``projections``      query, key and value weight matrices: ``init_projections``, ``project_qkv``
 4. ``scores``           unnormalized attention scores ω: ``attention_scores``
 5. ``weights``          scaled softmax, attention weights α: ``attention_weights``
 6. ``context``          context vectors, weighted sums of values: ``context_vectors``
 7. ``self_attention``   the whole computation as a module: ``SelfAttention``
 8. ``multi_head``       several heads: ``MultiHeadAttentionWrapper``, ``MultiHeadAttention``
 9. ``cross_attention``  queries from one sequence, keys and values from another: ``CrossAttention``
10. ``causal_pairs``     which query-key pairs causal attention computes: ``causal_pairs``,
                         ``count_causal_pairs``, ``keys_attended``
11. ``causal_mask``      masks that hide future tokens: ``tril_mask``, ``mask_and_renormalize``,
                         ``causal_mask``, ``mask_scores``, ``causal_attention_weights``, ``is_causal``
12. ``causal_attention`` causal self-attention: ``token_output``, ``CausalSelfAttention``
13. ``kv_cache``         decoding one token at a time with a key-value cache: ``KVCache``, ``decode_step``

The modules are deliberately not imported here: import the one you work on, e.g.
``from attention.tokens import build_vocab``. That way a step you have not finished (or that
does not run yet) never breaks the others.
"""
