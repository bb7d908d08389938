"""The attention shortcuts that from-scratch steps may not use (``from_scratch: true`` in course.yml).

One list for the parent's static scan (`grading.forbidden`) and the child's runtime guard
(`sandbox.child.ForbiddenGuard`). Each entry is the name torch gives the function or class, under
whichever namespace it is reached (``torch.nn.functional``, ``torch._C._nn``, ``torch``,
``torch._C._VariableFunctions``, ``torch.ops.aten``, with or without an overload suffix such as
``.default``), and the name shown to the learner.
"""

from __future__ import annotations

FORBIDDEN_NAMES: dict[str, str] = {
    "scaled_dot_product_attention": "torch.nn.functional.scaled_dot_product_attention",
    "MultiheadAttention": "torch.nn.MultiheadAttention",
    "multi_head_attention_forward": "torch.nn.functional.multi_head_attention_forward",
    # the kernels behind them, reachable as torch.<name>, torch._C._VariableFunctions.<name>, torch.ops.aten.<name>
    **{name: f"torch.ops.aten.{name}" for name in (
        "_scaled_dot_product_attention_math",
        "_scaled_dot_product_attention_math_for_mps",
        "_scaled_dot_product_flash_attention",
        "_scaled_dot_product_flash_attention_for_cpu",
        "_scaled_dot_product_efficient_attention",
        "_scaled_dot_product_cudnn_attention",
        "_scaled_dot_product_fused_attention_overrideable",
        "_flash_attention_forward",
        "_flash_attention_forward_no_dropout_inplace",
        "_efficient_attention_forward",
        "_native_multi_head_attention",
        "_triton_multi_head_attention",
        "_transformer_encoder_layer_fwd",
    )},
}


def forbidden_api(name: str) -> str | None:
    """The shown name of the forbidden API ``name`` designates, or None.

    ``name`` may be qualified (``torch.ops.aten.x``, ``aten::x``) and carry an overload suffix
    (``x.default``).
    """
    parts = [p for p in name.replace("::", ".").split(".") if p]
    for part in reversed(parts[-2:]):  # "x" or "x.default"
        if part in FORBIDDEN_NAMES:
            return FORBIDDEN_NAMES[part]
    return None
