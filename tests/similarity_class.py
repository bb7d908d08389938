"""A small class for the similarity report's tests: honest work in several styles, and one disguised copy.

Every submission is the released stubs with the learner's bodies in place of the stubs'
``raise NotImplementedError`` lines (`fill`), or a bundled sample, or the reference solutions.
Honest learners (`HONEST`): the samples ``complete_einsum`` and ``partial_mistakes``; two stubs-only
submissions; two learners who finished only steps 1-6, in different styles (loops; compact
library calls); two learners who follow the article's listings; two who hand in the reference
solutions; two written from the other correct styles of ``tests/correct_styles.py`` (Python loops,
manual softmax) and ``tests/sweep_styles.py`` (float64 inside). `disguise` makes the copy:
renamed identifiers, reordered functions, comments and blank lines changed, one helper extracted.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import shutil
import textwrap
from pathlib import Path

from autograder.course import load_course
from autograder.notebook_ids import answer_id

REPO_ROOT = Path(__file__).resolve().parents[1]
STUBS = REPO_ROOT / "exercises" / "attention"
SAMPLES = REPO_ROOT / "autograder" / "samples"
COURSE = load_course()

LOOPS = {  # steps 1-6 with loops and elementwise products
    "build_vocab": "vocab = {}\nfor w in sorted(set(text.split())):\n    vocab[w] = len(vocab)\nreturn vocab",
    "encode": "pieces = text.split()\nmissing = [p for p in pieces if p not in vocab]\nif missing:\n"
              "    raise KeyError(missing[0])\nreturn torch.tensor([vocab[p] for p in pieces], dtype=torch.int64)",
    "embed": "ids = token_ids if isinstance(token_ids, torch.Tensor) else torch.tensor(list(token_ids))\n"
             "torch.manual_seed(seed)\ntable = nn.Embedding(vocab_size, dim)\nwith torch.no_grad():\n"
             "    vectors = table(ids.to(torch.int64))\nreturn vectors",
    "init_projections": "if seed is not None:\n    torch.manual_seed(seed)\nmats = []\n"
                        "for cols in (d_out_kq, d_out_kq, d_out_v):\n"
                        "    mats.append(nn.Parameter(torch.rand(d_in, cols)))\n"
                        "return tuple(mats)",
    "project_qkv": "results = []\nfor matrix in (W_query, W_key, W_value):\n    if matrix.shape[0] != x.shape[-1]:\n"
                   "        raise ValueError('shape mismatch between x and a projection')\n"
                   "    results.append(torch.matmul(x, matrix))\nreturn tuple(results)",
    "attention_scores": "if queries.shape[-1] != keys.shape[-1]:\n    raise ValueError('d_k differs')\n"
                        "if queries.dim() == 1:\n    return (keys * queries).sum(dim=-1)\n"
                        "return (queries.unsqueeze(-2) * keys.unsqueeze(-3)).sum(dim=-1)",
    "attention_weights": "if d_k <= 0:\n    raise ValueError('d_k must be positive')\nshifted = scores / d_k ** 0.5\n"
                         "shifted = shifted - shifted.max(dim=-1, keepdim=True).values\ne = shifted.exp()\n"
                         "return e / e.sum(dim=-1, keepdim=True)",
    "context_vectors": "if weights.shape[-1] != values.shape[-2]:\n    raise ValueError('T differs')\n"
                       "return (weights.unsqueeze(-1) * values).sum(dim=-2)",
}
COMPACT = {  # steps 1-6 with library calls, one or two lines each
    "build_vocab": "uniq = sorted(frozenset(text.split()))\nreturn dict(zip(uniq, range(len(uniq))))",
    "encode": "try:\n    return torch.as_tensor([vocab[t] for t in text.split()], dtype=torch.long)\n"
              "except KeyError as missing:\n    raise KeyError(f'not in vocab: {missing}') from None",
    "embed": "torch.manual_seed(seed)\nweight = nn.Embedding(vocab_size, dim).weight.detach()\n"
             "return weight[torch.as_tensor(token_ids, dtype=torch.long)]",
    "init_projections": "None if seed is None else torch.manual_seed(seed)\n"
                        "wq, wk = nn.Parameter(torch.rand(d_in, d_out_kq)), nn.Parameter(torch.rand(d_in, d_out_kq))\n"
                        "return wq, wk, nn.Parameter(torch.rand(d_in, d_out_v))",
    "project_qkv": "return tuple(torch.einsum('...i,io->...o', x, w) for w in (W_query, W_key, W_value))",
    "attention_scores": "return torch.matmul(queries, keys.mT) if queries.dim() > 1 else keys @ queries",
    "attention_weights": "return torch.nn.functional.softmax(scores * d_k ** -0.5, dim=-1)",
    "context_vectors": "return torch.matmul(weights, values)",
}
ARTICLE = {  # the article's listings, as a learner fits them into the stubs
    "attention_scores": "return queries @ keys.T",
    "attention_weights": "return torch.softmax(scores / d_k**0.5, dim=-1)",
    "context_vectors": "return weights @ values",
    "SelfAttention.__init__": "super().__init__()\nself.d_out_kq = d_out_kq\n"
                              "self.W_query = nn.Parameter(torch.rand(d_in, d_out_kq))\n"
                              "self.W_key = nn.Parameter(torch.rand(d_in, d_out_kq))\n"
                              "self.W_value = nn.Parameter(torch.rand(d_in, d_out_v))",
    "SelfAttention.forward": "keys = x @ self.W_key\nqueries = x @ self.W_query\nvalues = x @ self.W_value\n"
                             "attn_scores = queries @ keys.T  # unnormalized attention weights\n"
                             "attn_weights = torch.softmax(\n    attn_scores / self.d_out_kq**0.5, dim=-1\n)\n"
                             "context_vec = attn_weights @ values\nreturn context_vec",
    "MultiHeadAttentionWrapper.__init__": "super().__init__()\nself.heads = nn.ModuleList(\n"
                                          "    [SelfAttention(d_in, d_out_kq, d_out_v)\n"
                                          "     for _ in range(num_heads)]\n)",
    "MultiHeadAttentionWrapper.forward": "return torch.cat([head(x) for head in self.heads], dim=-1)",
    "CrossAttention.__init__": "super().__init__()\nself.d_out_kq = d_out_kq\n"
                               "self.W_query = nn.Parameter(torch.rand(d_in, d_out_kq))\n"
                               "self.W_key = nn.Parameter(torch.rand(d_in, d_out_kq))\n"
                               "self.W_value = nn.Parameter(torch.rand(d_in, d_out_v))",
    "CrossAttention.forward": "queries_1 = x_1 @ self.W_query\nkeys_2 = x_2 @ self.W_key\n"
                              "values_2 = x_2 @ self.W_value\n"
                              "attn_scores = queries_1 @ keys_2.T\n"
                              "attn_weights = torch.softmax(attn_scores / self.d_out_kq**0.5, dim=-1)\n"
                              "context_vec = attn_weights @ values_2\nreturn context_vec",
}
ARTICLE_RENAMED = {"keys": "k", "queries": "q", "values": "v", "attn_scores": "scores_", "attn_weights": "alpha",
                   "context_vec": "z", "queries_1": "q1", "keys_2": "k2", "values_2": "v2"}
RAISE = re.compile(r'^(?P<indent>\s*)raise NotImplementedError\("\w+: (?P<name>[\w.]+) is not implemented yet"\)$',
                   re.M)


def fill(stub: str, bodies: dict[str, str]) -> str:
    """``stub`` with each ``raise NotImplementedError`` of a function named in ``bodies`` replaced by its body."""
    def body(match: re.Match) -> str:
        name = match["name"]
        return textwrap.indent(bodies[name], match["indent"]) if name in bodies else match[0]

    return RAISE.sub(body, stub)


def write_package(folder: Path, bodies: dict[str, str], rename: dict[str, str] | None = None) -> Path:
    """A submission ``folder/attention/`` of the released stubs filled with ``bodies``."""
    package = folder / "attention"
    package.mkdir(parents=True)
    for stub in sorted(STUBS.glob("*.py")):
        text = fill(stub.read_text(encoding="utf-8"), bodies)
        for old, new in (rename or {}).items():
            text = re.sub(rf"(?<![\w.]){old}\b", new, text)
        (package / stub.name).write_text(text, encoding="utf-8")
    return folder


def write_notebooks(folder: Path, modules: dict[str, str]) -> Path:
    """A notebook submission: the learner notebooks, each step's answer cell holding ``modules[step.module]``."""
    source = REPO_ROOT / "exercises" / "notebooks"
    (folder / "notebooks").mkdir(parents=True)
    for path in sorted(source.glob("*.ipynb")):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        for cell in notebook["cells"]:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            for step in COURSE.steps:
                if grade_id == answer_id(step.id) and step.module in modules:
                    cell["source"] = modules[step.module]
        (folder / "notebooks" / path.name).write_text(json.dumps(notebook), encoding="utf-8")
    return folder


def _reordered(source: str) -> str:
    """The module's top-level functions and classes in reverse order, after everything else."""
    tree = ast.parse(source)
    lines = source.splitlines()
    defs = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    if len(defs) < 2:
        return source
    spans = [(min([d.lineno for d in node.decorator_list] + [node.lineno]) - 1, node.end_lineno) for node in defs]
    taken = {n for start, end in spans for n in range(start, end)}
    rest = [line for n, line in enumerate(lines) if n not in taken]
    blocks = ["\n".join(lines[start:end]) for start, end in reversed(spans)]
    return "\n".join(rest).rstrip() + "\n\n\n" + "\n\n\n".join(blocks) + "\n"


DISGUISE_NAMES = {"scores": "sim", "weights": "probs", "queries": "qs", "keys": "ks", "values": "vs",
                  "omega": "raw", "out_dtype": "kind", "scaled": "z", "shifted": "zc", "exps": "ez",
                  "heads": "parts", "head": "part", "mask": "blocked", "x": "inp", "q": "qm", "k": "km", "v": "vm"}


def disguise(original: Path, target: Path) -> Path:
    """A copy of ``original`` disguised: a helper extracted, names changed, functions reordered, comments changed."""
    shutil.copytree(original, target)
    scores = target / "attention" / "scores.py"
    text = scores.read_text(encoding="utf-8")
    inline = 'torch.einsum("...qd,...kd->...qk", q, k)'
    assert inline in text, "the sample changed: pick another helper to extract"
    text = text.replace(inline, "_pair_dots(q, k)") + (
        '\n\ndef _pair_dots(a, b):\n    return torch.einsum("...qd,...kd->...qk", a, b)\n')
    scores.write_text(text, encoding="utf-8")
    for path in sorted((target / "attention").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        text = _reordered(text)
        text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        text = re.sub(r"  # .*$", "", text, flags=re.M)
        for old, new in DISGUISE_NAMES.items():
            text = re.sub(rf"(?<![\w.\"']){old}\b", new, text)
        text = re.sub(r"\n(def |class )", r"\n# my own work\n\n\1", text).replace("\n\n\n", "\n\n\n\n")
        ast.parse(text)  # still Python
        path.write_text(text, encoding="utf-8")
    return target


def _styles() -> dict[str, tuple[dict[str, str], list[str]]]:
    """Two learners written from the project's other correct styles: bodies, and the helpers they add."""
    import correct_styles as loops
    import sweep_styles as sweep

    init = ("super().__init__()\nself.W_query = nn.Parameter(torch.rand(d_in, d_out_kq))\n"
            "self.W_key = nn.Parameter(torch.rand(d_in, d_out_kq))\n"
            "self.W_value = nn.Parameter(torch.rand(d_in, d_out_v))")
    return {
        "styles_loops": ({
            "attention_weights": "return _manual_softmax(scores / d_k ** 0.5)",
            "SelfAttention.__init__": init, "CrossAttention.__init__": init,
            "SelfAttention.forward": "return _loop_attention(x @ self.W_query, x @ self.W_key, x @ self.W_value, "
                                     "causal=False)",
            "CrossAttention.forward": "return _loop_attention(x_1 @ self.W_query, x_2 @ self.W_key, "
                                      "x_2 @ self.W_value, causal=False)",
        }, [inspect.getsource(f) for f in (loops._manual_softmax, loops._loop_attention)]),
        "styles_float64": ({
            "encode": "return _encode_repr(text, vocab)",
            "init_projections": "return _init_projections(d_in, d_out_kq, d_out_v, seed)",
            "attention_scores": "return _scores64(queries, keys)",
            "attention_weights": "return _weights64(scores, d_k)",
        }, [inspect.getsource(f) for f in (sweep._encode_repr, sweep._init_projections, sweep._scores64,
                                           sweep._weights64, sweep._softmax)]),
    }


def write_style(folder: Path, bodies: dict[str, str], helpers: list[str]) -> Path:
    """A package of the stubs filled with ``bodies``; each module that uses a helper gets its source appended."""
    write_package(folder, bodies)
    for path in (folder / "attention").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        used = [h for h in helpers if re.search(r"def (\w+)", h)[1] + "(" in text]
        if used:
            path.write_text("import math\n" + text + "\n\n" + "\n\n".join(used), encoding="utf-8")
    return folder


HONEST = ("complete_einsum", "partial_mistakes", "stubs_only", "stubs_again", "half_loops", "half_compact",
          "article_a", "article_b", "reference_a", "reference_b", "styles_loops", "styles_float64")


def make_class(root: Path) -> Path:
    """``root/class/``: the honest learners of `HONEST` and ``disguised``, a disguised copy of complete_einsum."""
    batch = root / "class"
    for sample in ("complete_einsum", "partial_mistakes", "stubs_only"):
        shutil.copytree(SAMPLES / sample, batch / sample)
    write_package(batch / "stubs_again", {})
    write_package(batch / "half_loops", LOOPS)
    write_package(batch / "half_compact", COMPACT)
    write_package(batch / "article_a", ARTICLE)
    write_package(batch / "article_b", ARTICLE, rename=ARTICLE_RENAMED)
    shutil.copytree(REPO_ROOT / "solutions" / "attention", batch / "reference_a" / "attention")
    shutil.copytree(REPO_ROOT / "solutions" / "attention", batch / "reference_b" / "attention")
    for path in (batch / "reference_b" / "attention").glob("*.py"):  # comments and solution markers dropped
        path.write_text(re.sub(r"\s+#.*$", "", path.read_text(encoding="utf-8"), flags=re.M), encoding="utf-8")
    for name, (bodies, helpers) in _styles().items():
        write_style(batch / name, bodies, helpers)
    disguise(SAMPLES / "complete_einsum", batch / "disguised")
    return batch
