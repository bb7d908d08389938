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
