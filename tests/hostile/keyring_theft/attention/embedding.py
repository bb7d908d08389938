"""Hostile: a later step (same sandbox uid as root) looks for the key the first step planted."""
import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)
_KEYCTL = {"x86_64": 250}.get(os.uname().machine, 219)
for _keyring in (-1, -2, -3, -4, -5):
    if _libc.syscall(_KEYCTL, ctypes.c_long(10), ctypes.c_long(_keyring), b"user", b"autograder-hostile-planted",
                     ctypes.c_long(0)) >= 0:
        raise RuntimeError("FOUND the key an earlier step planted: keys outlive their child")

from attention_solution_embedding import *  # noqa: E402,F401,F403 - replaced by the fixture with the solution
