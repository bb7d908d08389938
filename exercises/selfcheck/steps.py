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
    points: float = 0.0  # the step's points in the grade
    question_points: float = 0.0  # the share of them its notebook's concept questions carry


OUTPUT_KB = 256  # what learner code may print per step, in the grader

STEPS = (
    StepInfo(
        1,
        'tokens',
        'Words to token ids',
        'tokens',
        '01_tokens',
        ('build_vocab', 'encode'),
        points=6.0, question_points=0.0,
    ),
    StepInfo(
        2,
        'embedding',
        'Token ids to embeddings',
        'embedding',
        '02_embedding',
        ('embed',),
        points=4.0, question_points=0.0,
    ),
    StepInfo(
        3,
        'projections',
        'Query, key and value projections',
        'projections',
        '03_projections',
        ('init_projections', 'project_qkv'),
        points=6.0, question_points=0.0,
    ),
    StepInfo(
        4,
        'scores',
        'Unnormalized attention scores',
        'scores',
        '04_scores',
        ('attention_scores',),
        True,
        points=6.0, question_points=0.0,
    ),
    StepInfo(
        5,
        'weights',
        'Scaled softmax: attention weights',
        'weights',
        '05_weights',
        ('attention_weights',),
        True,
        points=8.0, question_points=0.0,
    ),
    StepInfo(
        6,
        'context',
        'Context vectors',
        'context',
        '06_context',
        ('context_vectors',),
        True,
        points=6.0, question_points=0.0,
    ),
    StepInfo(
        7,
        'self_attention',
        'A self-attention module',
        'self_attention',
        '07_self_attention_and_heads',
        ('SelfAttention',),
        True,
        points=8.0, question_points=0.0,
    ),
    StepInfo(
        8,
        'multi_head',
        'Multi-head attention',
        'multi_head',
        '07_self_attention_and_heads',
        ('MultiHeadAttentionWrapper', 'MultiHeadAttention'),
        True,
        points=12.0, question_points=0.0,
    ),
    StepInfo(
        9,
        'cross_attention',
        'Cross-attention',
        'cross_attention',
        '08_cross_attention',
        ('CrossAttention',),
        True,
        points=8.0, question_points=0.0,
    ),
    StepInfo(
        10,
        'causal_pairs',
        'Which query-key pairs causal attention computes',
        'causal_pairs',
        '09_causal_pairs',
        ('causal_pairs', 'count_causal_pairs', 'keys_attended'),
        True,
        points=6.0, question_points=1.0,
    ),
    StepInfo(
        11,
        'causal_mask',
        'Causal masks',
        'causal_mask',
        '10_causal_mask',
        ('tril_mask', 'mask_and_renormalize', 'causal_mask', 'mask_scores', 'causal_attention_weights', 'is_causal'),
        True,
        points=12.0, question_points=2.0,
    ),
    StepInfo(
        12,
        'causal_attention',
        'Causal self-attention',
        'causal_attention',
        '11_causal_attention_and_kv_cache',
        ('token_output', 'CausalSelfAttention'),
        True,
        points=10.0, question_points=1.0,
    ),
    StepInfo(
        13,
        'kv_cache',
        'Decoding with a KV cache',
        'kv_cache',
        '11_causal_attention_and_kv_cache',
        ('KVCache', 'decode_step'),
        True,
        points=8.0, question_points=0.0,
    ),
)

BY_ID = {step.id: step for step in STEPS}
