"""The sandbox's forbidden-API ban (`autograder.sandbox.ban`): every route to a forbidden op raises
and is recorded, nothing in Python undoes it, and only trusted code gets attention computed.

Each test runs a fresh interpreter that installs the child's guard (`ChildGuard.install`) as the
sandboxed child does, then attacks it as learner code would, and prints what happened as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SDPA = "torch.nn.functional.scaled_dot_product_attention"
MATH = "torch.ops.aten._scaled_dot_product_attention_math"
FLASH = "torch.ops.aten._scaled_dot_product_flash_attention_for_cpu"

PRELUDE = '''
import json, sys, time
import torch
import torch.nn.functional as F
torch.manual_seed(0)
q = torch.randn(2, 4, 8)
q4 = torch.randn(2, 1, 4, 8)
SETUP
from autograder.sandbox.ban import prepare_ban
started = time.perf_counter()
prepare_ban()  # the warm worker, once
prepared = time.perf_counter()
from autograder.sandbox.guard import ChildGuard
guard = ChildGuard(TRUSTED)
guard.install(INSTALL)  # each child
installed = time.perf_counter()
off = torch._C.DisableTorchFunction


def attempt(route):
    try:
        value = route()
    except Exception as error:
        return f"refused: {error}"
    return f"computed: {type(value).__name__}"
'''


def _run(body: str, setup: str = "", trusted: str = "frozenset()", install: str = "") -> dict:
    """Run ``setup`` (before the ban), the child's guard with ``trusted`` code, then ``body``."""
    script = PRELUDE.replace("SETUP", setup).replace("TRUSTED", trusted).replace("INSTALL", install)
    script += textwrap.dedent(body)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "exercises")]))
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=env, text=True, capture_output=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


ROUTES = '''
def with_off(route):
    with off():
        return route()


def inside(context, route):
    with off(), context:
        return route()


def popped(route):
    modes = []
    while torch._C._len_torch_function_stack():
        modes.append(torch._C._pop_torch_function_stack())
    return route()


def exec_route():
    scope = {"torch": torch, "q": q}
    exec(compile("out = torch.nn.functional." + "scaled_dot_product_attention" + "(q, q, q)", "<s>", "exec"), scope)
    return scope["out"]


def mha_class():
    cls = [c for c in torch.nn.Module.__subclasses__() if c.__name__ == "MultiheadAttention"][0]
    return cls(8, 2, batch_first=True)(q, q, q, need_weights=True)


CPU = torch._C.DispatchKeySet(torch._C.DispatchKey.CPU)
flash = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
routes = {
    "F": lambda: F.scaled_dot_product_attention(q, q, q),
    "F, torch function off": lambda: with_off(lambda: F.scaled_dot_product_attention(q, q, q)),
    "modes popped, torch.ops.aten": lambda: popped(lambda: torch.ops.aten.scaled_dot_product_attention(q, q, q)),
    "torch._C._nn": lambda: with_off(lambda: torch._C._nn.scaled_dot_product_attention(q, q, q)),
    "_VariableFunctions math": lambda: with_off(
        lambda: torch._C._VariableFunctions._scaled_dot_product_attention_math(q, q, q)),
    "run-time name": lambda: with_off(lambda: getattr(torch, "_scaled_dot_product_" + "attention_math")(q, q, q)),
    "importlib": lambda: with_off(
        lambda: __import__("importlib").import_module("torch.nn.functional").scaled_dot_product_attention(q, q, q)),
    "exec": lambda: with_off(exec_route),
    "aten flash (CPU kernel)": lambda: with_off(lambda: flash(q4, q4, q4)),
    "no_grad flash": lambda: inside(torch.no_grad(), lambda: flash(q4, q4, q4)),
    "inference_mode": lambda: inside(torch.inference_mode(), lambda: F.scaled_dot_product_attention(q, q, q)),
    "autocast": lambda: inside(torch.autocast("cpu"), lambda: F.scaled_dot_product_attention(q, q, q)),
    "below autograd": lambda: inside(torch._C._AutoDispatchBelowAutograd(),
                                     lambda: torch.ops.aten._scaled_dot_product_attention_math(q, q, q)),
    "CPU key excluded": lambda: inside(torch._C._ExcludeDispatchKeyGuard(CPU), lambda: flash(q4, q4, q4)),
    "decompose": lambda: with_off(lambda: torch.ops.aten._scaled_dot_product_attention_math.default.decompose(q, q, q)),
    "vmap": lambda: with_off(lambda: torch.vmap(lambda a: torch._scaled_dot_product_attention_math(a, a, a))(q[None])),
    "redispatch": lambda: with_off(lambda: flash.default.redispatch(CPU, q4, q4, q4)),
    "computed kernel": lambda: with_off(lambda: torch._C._dispatch_get_computed_kernel_for_dispatch_key(
        "aten::_scaled_dot_product_flash_attention_for_cpu", torch._C.DispatchKey.CPU).call_boxed(CPU, q4, q4, q4)),
    "call_boxed": lambda: with_off(lambda: torch._C._dispatch_call_boxed(flash.default._handle, q4, q4, q4)),
    "torch._decomp": lambda: with_off(lambda: __import__("torch._decomp.decompositions", fromlist=["_"])
                                      .scaled_dot_product_flash_attention_for_cpu(q4, q4, q4)),
    "native MHA": lambda: with_off(lambda: torch._native_multi_head_attention(
        q, q, q, 8, 2, torch.randn(24, 8), torch.randn(24), torch.randn(8, 8), torch.randn(8))),
    "nn.MultiheadAttention need_weights": lambda: with_off(
        lambda: torch.nn.MultiheadAttention(8, 2, batch_first=True)(q, q, q, need_weights=True)),
    "F.multi_head_attention_forward": lambda: with_off(lambda: F.multi_head_attention_forward(
        q.transpose(0, 1), q.transpose(0, 1), q.transpose(0, 1), 8, 2, torch.randn(24, 8), torch.randn(24), None,
        None, False, 0.0, torch.randn(8, 8), torch.randn(8))),
    "MHA class from __subclasses__": lambda: with_off(mha_class),
    "TransformerEncoderLayer (fast path)": lambda: inside(
        torch.no_grad(), lambda: torch.nn.TransformerEncoderLayer(8, 2, batch_first=True).eval()(q)),
    "TransformerEncoderLayer (MHA)": lambda: with_off(lambda: torch.nn.TransformerEncoderLayer(8, 2)(q)),
    "a thread": lambda: with_off(lambda: thread_route()),
    "a dispatch mode of its own": lambda: with_off(dispatch_mode_route),
    "torch.compile": lambda: popped(lambda: torch.compile(lambda a: flash(a, a, a)[0], backend="aot_eager",
                                                          fullgraph=True)(q4)),
    "torch.jit.trace": lambda: popped(lambda: torch.jit.trace(lambda a: flash(a, a, a)[0], (q4,))(q4)),
}


def dispatch_mode_route():
    from torch.utils._python_dispatch import TorchDispatchMode, _disable_current_modes

    class Decomposing(TorchDispatchMode):  # a dispatch mode of its own, reaching for torch's decomposition
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if "attention" in func.name():
                return func.decompose(*args, **(kwargs or {}))
            return func(*args, **(kwargs or {}))

    with Decomposing():
        with _disable_current_modes():
            pass
        return torch.ops.aten._scaled_dot_product_attention_math(q, q, q)


def thread_route():
    import threading
    box = {}

    def run():
        box["out"] = attempt(lambda: F.scaled_dot_product_attention(q, q, q))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if box["out"].startswith("computed"):
        return q
    raise RuntimeError(box["out"])
'''


def test_every_route_to_a_forbidden_op_raises_and_is_recorded() -> None:
    result = _run(ROUTES + '''
results = {name: attempt(route) for name, route in routes.items()}
print(json.dumps({"results": results, "used": guard.take()}))
''')
    computed = {name: r for name, r in result["results"].items() if not r.startswith("refused")}
    assert computed == {}
    for name, outcome in result["results"].items():
        assert "is forbidden here: this step must be implemented from scratch" in outcome, (name, outcome)
    assert {SDPA, MATH, FLASH, "torch.nn.MultiheadAttention", "torch.nn.functional.multi_head_attention_forward",
            "torch.ops.aten._native_multi_head_attention",
            "torch.ops.aten._transformer_encoder_layer_fwd"} <= set(result["used"])


def test_the_ban_cannot_be_undone_from_python() -> None:
    result = _run('''
import gc, importlib
from autograder.sandbox import ban

attacks = {
    "gc.get_objects": lambda: gc.get_objects(),
    "gc.get_referrers": lambda: gc.get_referrers(F),
    "gc.get_referents": lambda: gc.get_referents(ban),
    "sys.settrace": lambda: sys.settrace(lambda *a: None),
    "sys.setprofile": lambda: sys.setprofile(lambda *a: None),
    "sys._current_frames": lambda: sys._current_frames(),
    "bind again": lambda: ban.install_ban(frozenset({attempt.__code__}), frozenset(), print),
    "prepare again": lambda: ban._PREPARED.clear() or ban.prepare_ban(),
    "reload the module": lambda: importlib.reload(ban).prepare_ban(),
}
undo = {name: attempt(a) for name, a in attacks.items()}
# a kernel of the learner's own, then taken away: the ban is what is left
lib = torch.library.Library("aten", "IMPL")
lib.impl("scaled_dot_product_attention", lambda *a, **k: a[0], "CompositeImplicitAutograd")
own = attempt(lambda: F.scaled_dot_product_attention(q, q, q))
lib._destroy()
del lib
# the raised error's frames: the kernel's locals are all it shows, and none of them lifts the ban
frames = []
try:
    with off():
        torch._scaled_dot_product_attention_math(q, q, q)
except RuntimeError as error:
    tb = caught = error.__traceback__
    while tb is not None:
        frames.append(sorted(tb.tb_frame.f_locals))
        tb = tb.tb_next
after = attempt(lambda: torch.ops.aten.scaled_dot_product_attention(q, q, q))
# every value the kernel's frame shows: none is a function whose cells would rebind what it trusts
kernel_frame = caught
while kernel_frame.tb_next is not None:
    kernel_frame = kernel_frame.tb_next
cells = [cell for value in kernel_frame.tb_frame.f_locals.values()
         for cell in (getattr(value, "__closure__", None) or ())]


def rebind():
    for cell in cells:
        if isinstance(cell.cell_contents, frozenset):
            cell.cell_contents = frozenset({rebind.__code__})
    return F.scaled_dot_product_attention(q, q, q)


print(json.dumps({"undo": undo, "own": own, "after": after, "frames": frames, "rebind": attempt(rebind)}))
''')
    for name, outcome in result["undo"].items():
        assert outcome.startswith("refused"), (name, outcome)
    assert result["own"] == "computed: Tensor"  # its own kernel is its own code
    assert result["after"].startswith(f"refused: {SDPA} is forbidden here")
    kernel_locals = result["frames"][-1]
    assert "trusted" in kernel_locals and "frame" in kernel_locals  # the kernel's own frame is in the traceback
    assert result["rebind"].startswith("refused"), result["rebind"]


TRUSTED_SETUP = '''
def trusted(*args, **kwargs):  # stands for a reference stand-in
    return F.scaled_dot_product_attention(*args, **kwargs)


def trusted_callback(callback):  # trusted code that calls learner code: the call is the learner's
    return callback()


mask = torch.rand(4, 4) > 0.3
mask |= torch.eye(4, dtype=torch.bool)
cases = [((q, q, q), {}), ((q, q, q), {"is_causal": True}), ((q, q, q), {"attn_mask": mask}),
         ((q4, q4, q4), {"scale": 0.3}), ((q, q, q), {"attn_mask": torch.randn(4, 4)}),
         ((q, q, q), {"attn_mask": mask, "scale": 2.0})]
expected = [F.scaled_dot_product_attention(*a, **k) for a, k in cases]  # torch's own kernels, before the ban
'''


def test_only_trusted_code_gets_attention_computed() -> None:
    result = _run('''
agree = [bool(torch.allclose(trusted(*a, **k), want, atol=1e-6)) for (a, k), want in zip(cases, expected)]
learner = attempt(lambda: F.scaled_dot_product_attention(q, q, q))
callback = attempt(lambda: trusted_callback(lambda: F.scaled_dot_product_attention(q, q, q)))
print(json.dumps({"agree": agree, "learner": learner, "callback": callback, "used": guard.take(),
                  "prepare_ms": 1000 * (prepared - started), "install_ms": 1000 * (installed - prepared)}))
''', setup=TRUSTED_SETUP, trusted="frozenset({trusted.__code__, trusted_callback.__code__})")
    assert result["agree"] == [True] * 6
    assert result["learner"].startswith("refused") and result["callback"].startswith("refused")
    assert result["used"] == [SDPA]  # the trusted calls are not recorded, the learner's are
    # each child only binds the kernels the warm worker registered once (see the README for the numbers)
    assert result["install_ms"] < 50, (result["prepare_ms"], result["install_ms"])


PROCESSES = '''
import os, subprocess
attempts = {
    "subprocess": lambda: subprocess.run([sys.executable, "-c", "pass"], check=True),
    "os.system": lambda: os.system("true"),
    "os.execv": lambda: os.execv(sys.executable, [sys.executable, "-c", "pass"]),
    "os.posix_spawn": lambda: os.waitpid(os.posix_spawn(sys.executable, [sys.executable, "-c", "pass"], os.environ), 0),
}
results = {name: attempt(a) for name, a in attempts.items()}
read, write = os.pipe()
pid = os.fork()
if pid == 0:  # a fork keeps the ban
    os.write(write, attempt(lambda: F.scaled_dot_product_attention(q, q, q)).encode()[:200])
    os._exit(0)
os.waitpid(pid, 0)
results["fork, then the API"] = os.read(read, 200).decode()
print(json.dumps({"results": results, "used": guard.take()}))
'''


def test_a_from_scratch_step_cannot_start_a_program_outside_the_ban() -> None:
    """A fresh Python has torch without the ban: a from-scratch step's child refuses to start one (and
    the step scores 0); a fork keeps the ban. Other steps may start programs (the sandbox cleans up)."""
    result = _run(PROCESSES, install="refuse_processes=True")
    for name in ("subprocess", "os.system", "os.execv", "os.posix_spawn"):
        assert result["results"][name].startswith("refused: ") and "forbidden-API ban" in result["results"][name]
    assert result["results"]["fork, then the API"].startswith(f"refused: {SDPA} is forbidden here")
    assert "subprocess.Popen (a new program, outside the forbidden-API ban)" in result["used"]
    other_step = _run(PROCESSES.replace('"os.execv": lambda: os.execv(sys.executable, [sys.executable, "-c", "pass"]),',
                                        ""))
    assert all(not r.startswith("refused") for n, r in other_step["results"].items() if n != "fork, then the API")
