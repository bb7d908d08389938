"""The static scan names torch's attention shortcuts, and leaves a learner's own helpers alone."""

from autograder.grading.forbidden import scan


def _apis(source: str) -> list[tuple[str, int]]:
    return [(v.api, v.line) for v in scan(source)]


def test_attribute_import_and_getattr_uses_are_found() -> None:
    source = "\n".join([
        "import torch.nn.functional as F",
        "from torch.nn import MultiheadAttention as MHA",
        "out = F.scaled_dot_product_attention(q, k, v)",
        "fn = getattr(F, 'scaled_dot_product_attention')",
        "layer = torch.nn.MultiheadAttention(4, 2)",
    ])
    assert _apis(source) == [
        ("torch.nn.MultiheadAttention", 2),
        ("torch.nn.functional.scaled_dot_product_attention", 3),
        ("torch.nn.functional.scaled_dot_product_attention", 4),
        ("torch.nn.MultiheadAttention", 5),
    ]


def test_a_learner_function_of_the_same_name_is_not_a_violation() -> None:
    source = "def scaled_dot_product_attention(q, k, v):\n    return q\n\nx = scaled_dot_product_attention(1, 2, 3)\n"
    assert scan(source) == []


def test_unparsable_source_is_left_to_the_import() -> None:
    assert scan("def broken(:\n") == []


def test_docstrings_comments_and_sentences_cost_nothing() -> None:
    """The issue's case: naming the API in prose is not using it."""
    source = "\n".join([
        '"""Softmax of the scores, by hand (not F.scaled_dot_product_attention)."""',
        "import torch",
        "def weights(scores):",
        '    """Like torch.nn.MultiheadAttention, without it; scaled_dot_product_attention is torch\'s."""',
        "    # F.scaled_dot_product_attention(q, k, v) would do it all",
        '    "aten::scaled_dot_product_attention"  # a bare string statement',
        '    note = "compare with torch.nn.functional.scaled_dot_product_attention if you like"',
        '    raise ValueError(f"not {note}: MultiheadAttention is off limits")',
    ])
    assert scan(source) == []


def test_names_built_from_constants_are_folded() -> None:
    sdpa = "torch.nn.functional.scaled_dot_product_attention"
    source = "\n".join([
        'a = getattr(F, "scaled_dot_" + "product_" + "attention")',
        "b = getattr(F, f\"scaled_dot_{'product'}_attention\")",
        'c = getattr(F, "_".join(["scaled", "dot", "product", "attention"]))',
        'd = getattr(F, "noitnetta_tcudorp_tod_delacs"[::-1])',
        'e = getattr(F, "scaled-dot-product-attention".replace("-", "_"))',
        'f = operator.attrgetter("nn.functional." + "scaled_dot_product_attention")(torch)',
        'g = torch._C._jit_get_operation("aten::" + "scaled_dot_product_attention")',
        'name = "Multihead" + "Attention"',
    ])
    assert _apis(source) == [(sdpa, n) for n in range(1, 8)] + [("torch.nn.MultiheadAttention", 8)]


def test_every_route_to_the_kernels_is_named() -> None:
    source = "\n".join([
        "x = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(q, k, v)",
        "y = torch._C._VariableFunctions._scaled_dot_product_attention_math(q, k, v)",
        "z = torch._C._nn.scaled_dot_product_attention(q, k, v)",
        "w = torch.ops.aten.scaled_dot_product_attention.default(q, k, v)",
        "from torch.nn.functional import *",
        "u = multi_head_attention_forward",
        "v = torch._native_multi_head_attention",
    ])
    assert _apis(source) == [
        ("torch.ops.aten._scaled_dot_product_flash_attention_for_cpu", 1),
        ("torch.ops.aten._scaled_dot_product_attention_math", 2),
        ("torch.nn.functional.scaled_dot_product_attention", 3),
        ("torch.nn.functional.scaled_dot_product_attention", 4),
        ("torch.nn.functional.multi_head_attention_forward", 6),
        ("torch.ops.aten._native_multi_head_attention", 7),
    ]


def test_an_unused_branch_that_references_the_api_counts() -> None:
    """The policy (docs/DESIGN.md): a reference that can reach the API counts even where it never runs."""
    source = "\n".join([
        "import torch.nn.functional as F",
        "def _fast(q, k, v):  # never called",
        "    return F.scaled_dot_product_attention(q, k, v)",
        "def attend(q, k, v, fast=False):",
        "    if fast:",
        "        return _fast(q, k, v)",
        "    return (q @ k.T).softmax(-1) @ v",
    ])
    assert _apis(source) == [("torch.nn.functional.scaled_dot_product_attention", 3)]


def test_a_learner_helper_imported_from_another_module_is_not_torchs() -> None:
    source = "from attention.self_attention import scaled_dot_product_attention\nx = scaled_dot_product_attention(q)\n"
    assert scan(source) == []


def test_pathological_sources_are_scanned_quickly() -> None:
    import time

    started = time.monotonic()
    assert scan('x = "a"' + ' + "a"' * 5000 + "\n") == []
    assert scan("s = " + '"ab"' + '.replace("a", "aaaaaaaa")' * 40 + "\n") == []
    assert time.monotonic() - started < 5


def test_a_learner_method_of_the_same_name_is_not_a_violation_but_torchs_still_is() -> None:
    source = "\n".join([
        "import torch.nn.functional as F",
        "class MultiHeadAttention:",
        "    def scaled_dot_product_attention(self, q, k, v):",
        "        return (q @ k.T).softmax(-1) @ v",
        "    def forward(self, q, k, v):",
        "        return self.scaled_dot_product_attention(q, k, v)",
        "def cheat(q, k, v):",
        "    return F.scaled_dot_product_attention(q, k, v)",
        "mod = importlib.import_module('torch.nn.functional')",
        "other = mod.MultiheadAttention",
    ])
    assert _apis(source) == [("torch.nn.functional.scaled_dot_product_attention", 8),
                             ("torch.nn.MultiheadAttention", 10)]
