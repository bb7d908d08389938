"""The course's steps, in order. Generated when the course is released: do not edit."""

from typing import NamedTuple


class StepInfo(NamedTuple):
    number: int
    id: str
    title: str
    module: str
    notebook: str
    api: tuple[str, ...]
    from_scratch: bool = False  # forbidden APIs (selfcheck.forbidden) cost such a step all its points


STEPS = (
    StepInfo(1, 'tokens', 'Words to token ids', 'tokens', '01_tokens', ('build_vocab', 'encode')),
    StepInfo(2, 'embedding', 'Token ids to embeddings', 'embedding', '02_embedding', ('embed',)),
    StepInfo(
        3,
        'projections',
        'Query, key and value projections',
        'projections',
        '03_projections',
        ('init_projections', 'project_qkv'),
    ),
    StepInfo(4, 'scores', 'Unnormalized attention scores', 'scores', '04_scores', ('attention_scores',), True),
    StepInfo(5, 'weights', 'Scaled softmax: attention weights', 'weights', '05_weights', ('attention_weights',), True),
    StepInfo(6, 'context', 'Context vectors', 'context', '06_context', ('context_vectors',), True),
    StepInfo(
        7,
        'self_attention',
        'A self-attention module',
        'self_attention',
        '07_self_attention_and_heads',
        ('SelfAttention',),
        True,
    ),
    StepInfo(
        8,
        'multi_head',
        'Multi-head attention',
        'multi_head',
        '07_self_attention_and_heads',
        ('MultiHeadAttentionWrapper', 'MultiHeadAttention'),
        True,
    ),
    StepInfo(
        9,
        'cross_attention',
        'Cross-attention',
        'cross_attention',
        '08_cross_attention',
        ('CrossAttention',),
        True,
    ),
    StepInfo(
        10,
        'causal_pairs',
        'Which query-key pairs causal attention computes',
        'causal_pairs',
        '09_causal_pairs',
        ('causal_pairs', 'count_causal_pairs', 'keys_attended'),
        True,
    ),
    StepInfo(
        11,
        'causal_mask',
        'Causal masks',
        'causal_mask',
        '10_causal_mask',
        ('tril_mask', 'mask_and_renormalize', 'causal_mask', 'mask_scores', 'causal_attention_weights', 'is_causal'),
        True,
    ),
    StepInfo(
        12,
        'causal_attention',
        'Causal self-attention',
        'causal_attention',
        '11_causal_attention_and_kv_cache',
        ('token_output', 'CausalSelfAttention'),
        True,
    ),
    StepInfo(
        13,
        'kv_cache',
        'Decoding with a KV cache',
        'kv_cache',
        '11_causal_attention_and_kv_cache',
        ('KVCache', 'decode_step'),
        True,
    ),
)

BY_ID = {step.id: step for step in STEPS}
