"""The warm worker: imports torch once, then forks one confined child per step.

Started by `remote.Zygote` as ``python -m autograder.sandbox.zygote FD`` where FD is a
``SOCK_SEQPACKET`` control socket. Requests (JSON, one per packet):

- ``{"op": "spawn", "plan": {...}, "confinement": {...}, "output": PATH}`` with one passed fd
  (the child's end of a stream socket) -> ``{"pid": PID}``;
- ``{"op": "release", "pid": PID, "ended": BOOL}`` -> kills the child's whole process tree,
  ``{"status": "exited 0" | "killed by signal 9" | ...}``;
- end of file on the control socket -> kill every child and exit.

The zygote is a child subreaper: whatever a submission leaves behind is re-parented here and
killed with its step. It never imports the hidden checks or the reference; neither does a child:
its earlier steps' stand-ins are shells that ask the grader (`sandbox.shells`, `sandbox.oracle`).
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys
import sysconfig
import time

import torch

from selfcheck import plain as _plain  # noqa: F401 - preloaded before any fork

from .ban import prepare_ban
from .child import StepPlan, build_package, run_child
from .cleanup import kill_tree, reap
from .isolation import Confinement, confine, set_child_subreaper
from .killer import Killer

MAX_PACKET = 1 << 20
# What an unprivileged child must still read: the interpreter's installation (the standard library
# and site-packages). Not sys.path at large: it holds the repository, whose modules are preloaded.
PYTHON_PATHS = tuple(sorted({sys.prefix, sys.base_prefix, sys.exec_prefix,
                             *(p for p in sysconfig.get_paths().values() if os.path.isdir(p))}))


def warm_up() -> None:
    """Run once, before any fork, what every child needs: lazy imports and first-call setup."""
    import numpy.ctypeslib  # noqa: F401 - safetensors imports it lazily when saving
    from safetensors.torch import load, save

    from .wire import decode_value, encode_value

    tensors: dict = {}
    encoded = encode_value([torch.ones(2, 3)], tensors, lambda _: {})
    decode_value(encoded, load(save(tensors)), lambda _: None)
    x = torch.randn(2, 3, 4)
    torch.softmax(x @ x.transpose(-2, -1) / 2.0, dim=-1).masked_fill(torch.ones(3, 3).triu(1).bool(), 0.0)
    torch.nn.functional.scaled_dot_product_attention(x, x, x, is_causal=True)
    prepare_ban()  # once here, not per child: from now on every forbidden op raises until a child binds it


def describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = str(number)
        return f"killed by signal {name}"
    if os.WIFEXITED(status):
        return f"exited with status {os.WEXITSTATUS(status)}"
    return "ended"


class ZygoteServer:
    """The worker side: forks one confined child per request, collects and cleans up after them."""

    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.active: dict[int, int | None] = {}  # pid -> sandbox uid
        self.statuses: dict[int, int] = {}
        self.killer = Killer()  # kills a sandbox uid's processes without forking this (torch-sized) process
        if os.geteuid() == 0:
            self.killer.start()

    def collect(self) -> None:
        for pid, status in reap():
            self.statuses[pid] = status

    def spawn(self, request: dict, fds: list[int]) -> dict:
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            return {"error": "spawn needs exactly one socket"}
        conn_fd = fds[0]
        plan = StepPlan(
            package_dir=request["plan"]["package_dir"],
            module=request["plan"]["module"],
            standins={k: tuple(v) for k, v in request["plan"]["standins"].items()},
            step_ids=dict(request["plan"]["step_ids"]),
            from_scratch=bool(request["plan"].get("from_scratch", False)),
            shapes=dict(request["plan"].get("shapes", {})),
        )
        settings = Confinement(
            memory_bytes=int(request["confinement"]["memory_bytes"]),
            cpu_seconds=int(request["confinement"]["cpu_seconds"]),
            output_bytes=int(request["confinement"]["output_bytes"]),
            uid=request["confinement"].get("uid"),
            hidden_paths=tuple(request["confinement"].get("hidden_paths", ())),
            needed_paths=(*PYTHON_PATHS, request["workdir"]),
        )
        pid = os.fork()
        if pid == 0:
            self._become_child(conn_fd, request["output"], request["workdir"], plan, settings)
        os.close(conn_fd)
        self.active[pid] = settings.uid
        return {"pid": pid}

    def _become_child(self, conn_fd: int, output: str, workdir: str, plan: StepPlan, settings: Confinement) -> None:
        try:
            self.control.close()
            out = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(out, 1)
            os.dup2(out, 2)
            high = max(conn_fd, out, null)
            os.closerange(3, conn_fd)
            os.closerange(conn_fd + 1, max(high + 1, 1024))
            sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            build_package(plan)  # shells for the earlier steps' API names (no reference code)
            layers = confine(settings)
            os.chdir(workdir)
            os.environ.clear()
            os.environ.update({"HOME": workdir, "TMPDIR": workdir, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
            run_child(socket.socket(fileno=conn_fd), plan, layers)
        except BaseException:  # noqa: BLE001
            os._exit(71)
        os._exit(0)

    def release(self, pid: int, ended: bool = False) -> dict:
        """``ended``: the child closed its connection; give it a moment to exit by itself first (in a PID
        namespace its exit status comes through a small init, a few milliseconds later)."""
        deadline = time.monotonic() + (1.0 if ended else 0.0)
        while pid in self.active and pid not in self.statuses and time.monotonic() < deadline:
            time.sleep(0.002)
            self.collect()
        uid = self.active.pop(pid, None) if pid in self.active else None
        helper = {self.killer.pid} if self.killer.pid is not None else set()
        kill_tree(pid, uid=uid, keep=set(self.active) | helper, uid_killer=self.killer.kill)
        self.collect()
        try:
            _, status = os.waitpid(pid, 0)
            self.statuses[pid] = status
        except ChildProcessError:
            pass
        status = self.statuses.pop(pid, None)
        return {"status": describe_status(status) if status is not None else "ended"}

    def shutdown(self) -> None:
        for pid in list(self.active):
            self.release(pid)

    def serve(self) -> None:
        while True:
            ready, _, _ = select.select([self.control], [], [], 0.5)
            self.collect()
            if not ready:
                continue
            try:
                data, fds, _, _ = socket.recv_fds(self.control, MAX_PACKET, 4)
            except OSError:
                data, fds = b"", []
            if not data:
                self.shutdown()
                return
            try:
                request = json.loads(data)
                op = request.get("op")
                if op == "spawn":
                    reply = self.spawn(request, fds)
                elif op == "release":
                    reply = self.release(int(request["pid"]), bool(request.get("ended")))
                else:
                    reply = {"error": f"unknown op {op!r}"}
            except Exception as error:  # noqa: BLE001 - keep serving; report the problem
                reply = {"error": f"{type(error).__name__}: {error}"}
            try:
                self.control.send(json.dumps(reply).encode())
            except OSError:
                self.shutdown()
                return


def main() -> None:
    torch.set_num_threads(1)  # no OpenMP pool before fork: forked children stay safe
    warm_up()
    control = socket.socket(fileno=int(sys.argv[1]))
    try:
        os.setsid()  # no controlling terminal, once for every child (each child only makes its own group)
    except OSError:
        pass  # already a session leader
    set_child_subreaper()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the grader, which shuts us down
    zygote = ZygoteServer(control)
    try:
        control.send(json.dumps({"ready": os.getpid()}).encode())
    except OSError:
        return  # the grader went away while we started
    zygote.serve()
    os._exit(0)  # every child is gone; skip the interpreter's (and torch's) slow teardown


if __name__ == "__main__":
    main()
