"""The kernel keyrings, out of learner code's reach: a fresh session keyring and a seccomp filter.

The kernel keeps secrets (Kerberos tickets, CIFS and NFS credentials, ...) in keyrings that a
forked process inherits: the grader's session keyring, and the user keyring of its uid. Learner
code could read those keys and plant its own, which would outlast the grading. Two layers:

- `join_fresh_session_keyring`: the child leaves the session keyring it inherited for a new,
  anonymous one (``keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)``), which the kernel frees when
  the child's last process ends. Keys the kernel itself adds on the child's behalf (a DNS or
  file-system upcall) land there and die with it.
- `deny_key_syscalls`: a seccomp filter makes ``add_key``, ``request_key`` and ``keyctl`` fail
  with ``ENOSYS`` (as on a kernel built without keys), for the child and everything it starts.
  No key of anyone's can be read, and no key can be made, so nothing carries from one child to
  the next (the user keyring of a sandbox uid included). It needs no privilege, only
  ``PR_SET_NO_NEW_PRIVS``, so it holds in every grading mode. On an x86-64 kernel the filter
  also refuses every 32-bit and x32 system call (the same calls under other numbers).

`add_key`, `read_key` and `search_session_keyring` are the three calls the tests need.
"""

from __future__ import annotations

import ctypes
import errno
import os

from .libc import LIBC

# System-call numbers of (add_key, request_key, keyctl) and the audit architecture, by machine.
KEY_SYSCALLS = {
    "x86_64": (0xC000003E, (248, 249, 250)),
    "aarch64": (0xC00000B7, (217, 218, 219)),
    "arm64": (0xC00000B7, (217, 218, 219)),
    "riscv64": (0xC00000F3, (217, 218, 219)),
}
X32_SYSCALL_BIT = 0x40000000
NR_KEYCTL = {machine: numbers[2] for machine, (_, numbers) in KEY_SYSCALLS.items()}
NR_ADD_KEY = {machine: numbers[0] for machine, (_, numbers) in KEY_SYSCALLS.items()}

KEYCTL_READ = 11
KEYCTL_SEARCH = 10
KEYCTL_JOIN_SESSION_KEYRING = 1
KEY_SPEC_SESSION_KEYRING = -3

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000

# Classic BPF opcodes (linux/filter.h)
BPF_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
BPF_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
BPF_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
BPF_RET_K = 0x06  # BPF_RET | BPF_K
DATA_NR = 0  # offsetof(struct seccomp_data, nr)
DATA_ARCH = 4  # offsetof(struct seccomp_data, arch)


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def key_filter_program(machine: str) -> list[tuple[int, int, int, int]] | None:
    """The BPF program (code, jt, jf, k) that denies the key system calls on ``machine``; None if unknown.

    Layout: check the architecture (anything else: denied), refuse x32 numbers on x86-64, then
    compare the number with each of the three calls (a match jumps to the final deny).
    """
    known = KEY_SYSCALLS.get(machine)
    if known is None:
        return None
    arch, numbers = known
    deny = (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.ENOSYS)
    allow = (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW)
    body: list[tuple[int, int, int, int]] = [(BPF_LD_W_ABS, 0, 0, DATA_NR)]
    checks = [(BPF_JGE_K, X32_SYSCALL_BIT)] if machine == "x86_64" else []
    checks += [(BPF_JEQ_K, number) for number in numbers]
    for index, (code, value) in enumerate(checks):
        to_deny = len(checks) - index  # over the remaining checks and the allow
        body.append((code, to_deny, 0, value))
    body += [allow, deny]
    # architecture check: equal -> continue past the deny that follows it
    return [(BPF_LD_W_ABS, 0, 0, DATA_ARCH), (BPF_JEQ_K, 1, 0, arch), deny, *body]


def _compiled(machine: str) -> _SockFprog | None:
    program = key_filter_program(machine)
    if program is None:
        return None
    filters = (_SockFilter * len(program))(*(_SockFilter(*instruction) for instruction in program))
    compiled = _SockFprog(len(program), filters)
    compiled.keep = filters  # the array must live as long as the program that points to it
    return compiled


# Built once, in the warm worker, so that a child only makes the one prctl call.
KEY_FILTER = _compiled(os.uname().machine)


def deny_key_syscalls() -> bool:
    """Install the seccomp filter for this process and its descendants; True when it is in force.

    Needs ``PR_SET_NO_NEW_PRIVS`` set first (or privilege). Irreversible.
    """
    if KEY_FILTER is None:
        return False
    return LIBC.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(KEY_FILTER), 0, 0) == 0


def join_fresh_session_keyring() -> bool:
    """Leave the inherited session keyring for a new anonymous one (freed when the last user exits)."""
    return _keyctl(KEYCTL_JOIN_SESSION_KEYRING, None) >= 0


def _keyctl(operation: int, *args: object) -> int:
    number = NR_KEYCTL.get(os.uname().machine)
    if number is None:
        return -1
    return LIBC.syscall(number, ctypes.c_long(operation), *(_argument(a) for a in args))


def _argument(value: object) -> object:
    if value is None:
        return ctypes.c_void_p(None)
    if isinstance(value, bytes):
        return ctypes.c_char_p(value)
    return ctypes.c_long(int(value))  # type: ignore[call-overload]


def add_key(description: str, payload: bytes, keyring: int = KEY_SPEC_SESSION_KEYRING) -> int:
    """Add a ``user`` key to ``keyring`` (default: this process's session keyring); its serial."""
    number = NR_ADD_KEY.get(os.uname().machine)
    if number is None:
        raise OSError(errno.ENOSYS, "no key system calls known for this machine")
    serial = LIBC.syscall(number, b"user", description.encode(), ctypes.c_char_p(payload),
                          ctypes.c_size_t(len(payload)), ctypes.c_long(keyring))
    if serial < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return serial


def search_session_keyring(description: str) -> int | None:
    """The serial of the ``user`` key ``description`` reachable from the session keyring, or None."""
    serial = _keyctl(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, b"user", description.encode(), 0)
    return serial if serial >= 0 else None


def read_key(serial: int) -> bytes | None:
    """The payload of key ``serial``, or None when this process may not read it."""
    buffer = ctypes.create_string_buffer(4096)
    size = _keyctl(KEYCTL_READ, serial, ctypes.addressof(buffer), len(buffer))
    return buffer.raw[:size] if size >= 0 else None
