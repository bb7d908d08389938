"""Hostile: look for the hidden tests and the solutions, and put whatever it finds into an error message."""
import glob
import os

_found = []
for pattern in ["/work/*/autograder/hidden/*.py", "/work/*/solutions/attention/*.py", "../../**/hidden/*.py",
                "/tmp/**/hidden*.py", "/autograder/source/**/*.py"]:
    for path in glob.glob(pattern, recursive=True)[:20]:
        try:
            with open(path) as handle:
                _found.append(path + ":" + handle.read(4000))
        except OSError:
            pass
for root, dirs, files in os.walk("/", topdown=True):
    dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev", "usr", "lib", "lib64", "bin", "sbin", "etc", "var")]
    for name in files:
        if "hidden" in name.lower() and name.endswith(".py") and len(_found) < 40:
            try:
                with open(os.path.join(root, name)) as handle:
                    _found.append(name + ":" + handle.read(4000))
            except OSError:
                pass

from attention_solution_cross_attention import *  # noqa: E402,F401,F403 - replaced by the fixture with the solution
from attention_solution_cross_attention import CrossAttention as _Correct  # noqa: E402


class CrossAttention(_Correct):
    def forward(self, x_1, x_2):
        if _found:
            raise RuntimeError("FOUND " + " | ".join(_found))
        return super().forward(x_1, x_2)
