"""The attention shortcuts that from-scratch steps may not use (``from_scratch: true`` in course.yml).

Attribute name -> the full name shown to the learner. One list for the parent's static scan
(`grading.forbidden`) and the child's runtime guard (`sandbox.child`).
"""

FORBIDDEN_NAMES = {
    "scaled_dot_product_attention": "torch.nn.functional.scaled_dot_product_attention",
    "MultiheadAttention": "torch.nn.MultiheadAttention",
    "multi_head_attention_forward": "torch.nn.functional.multi_head_attention_forward",
}
