"""The static scan names torch's attention shortcuts, and leaves a learner's own helpers alone."""

from pathlib import Path

from selfcheck.forbidden_scan import scan, scan_step


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


def test_switching_the_guard_off_is_flagged_and_naming_it_is_not() -> None:
    source = "\n".join([
        '"""Not torch._C.DisableTorchFunction: that would switch the guard off."""',
        "import torch",
        "from torch.utils._python_dispatch import _disable_current_modes",
        "# torch._C._pop_torch_function_stack() is not used",
        "with torch._C.DisableTorchFunction():",
        "    pass",
        "mode = getattr(torch._C, '_pop_torch_' + 'function_stack')()",
        "lib = torch._C._dispatch_library('IMPL', 'aten', '')",
    ])
    assert _apis(source) == [("torch.utils._python_dispatch._disable_current_modes", 3),
                             ("torch._C.DisableTorchFunction", 5), ("torch._C._pop_torch_function_stack", 7),
                             ("torch._C._dispatch_library", 8)]


def test_the_modules_a_step_imports_are_scanned_with_it(tmp_path: Path) -> None:
    """Helper modules (transitively) and ``__init__.py`` when a name is imported from the package;
    not other steps' modules (their own step scans them), nor modules the step does not import."""
    package = tmp_path / "attention"
    package.mkdir()
    files = {
        "__init__.py": "import torch.nn.functional as F\nfast = F.scaled_dot_product_attention\n",
        "self_attention.py": "from attention.helpers import attend\nfrom attention import fast\n",
        "helpers.py": '"""Helpers: not F.scaled_dot_product_attention."""\nfrom .inner import deep\n',
        "inner.py": "import torch\n\ndef deep(q):\n    return torch._C._nn.scaled_dot_product_attention(q, q, q)\n",
        "unused.py": "import torch.nn.functional as F\nF.scaled_dot_product_attention\n",
        "multi_head.py": "import torch\nlayer = torch.nn.MultiheadAttention\n",
        "causal_attention.py": "from attention.multi_head import layer\n",
    }
    for name, text in files.items():
        (package / name).write_text(text)
    steps = {"self_attention", "multi_head", "causal_attention"}
    found = [(name, v.api, v.line) for name, v in scan_step(package, "self_attention", steps)]
    sdpa = "torch.nn.functional.scaled_dot_product_attention"
    assert sorted(found) == [("__init__.py", sdpa, 2), ("inner.py", sdpa, 4)]
    assert scan_step(package, "causal_attention", steps) == []  # multi_head.py costs its own step
    assert scan_step(package, "missing_step", steps) == []


def _notebook_self_attention(forward_body: str) -> dict:
    """A notebook namespace whose SelfAttention computes its output with ``forward_body``."""
    import torch

    namespace: dict = {"torch": torch, "nn": torch.nn}
    exec(compile("\n".join([  # noqa: S102 - our own test code
        "class SelfAttention(nn.Module):",
        "    def __init__(self, d_in, d_out_kq, d_out_v):",
        "        super().__init__()",
        "        self.d_in = d_in",
        "        self.W_query, self.W_key, self.W_value = init_projections(d_in, d_out_kq, d_out_v)",
        "    def forward(self, x):",
        "        if x.dim() < 2 or x.shape[-1] != self.d_in:",
        "            raise ValueError('bad x')",
        "        q, k, v = x @ self.W_query, x @ self.W_key, x @ self.W_value",
        *forward_body.splitlines(),
    ]), "notebook-cell", "exec"), namespace)
    return namespace


def test_in_nbgrader_a_forbidden_call_in_any_check_zeroes_every_test_cell_of_the_step() -> None:
    """In-process (nbgrader's hidden test cells): the forbidden call happens only for batched inputs,
    yet the cell that runs only unbatched checks fails too, naming the API."""
    import pytest

    from autograder.hidden.notebook import HiddenTestFailed, run_hidden

    by_hand = "        return torch.softmax(q @ k.transpose(-2, -1) / k.shape[-1] ** 0.5, dim=-1) @ v"
    run_hidden("self_attention", _notebook_self_attention(by_hand), check=["example_row", "parameter_draws"])
    cheat = _notebook_self_attention("\n".join([
        "        if x.dim() == 3:",
        "            name = '_'.join(p for p in ('scaled', 'dot', 'product', 'attention'))",
        "            return getattr(torch.nn.functional, name)(q, k, v)",
        by_hand,
    ]))
    with pytest.raises(HiddenTestFailed) as failed:
        run_hidden("self_attention", cheat, check=["example_row", "parameter_draws"])
    assert len(failed.value.lines) == 4  # two failed tests, each with its reason
    assert str(failed.value).count("called torch.nn.functional.scaled_dot_product_attention") == 2
