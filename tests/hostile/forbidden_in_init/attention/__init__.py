"""Hostile: the package's __init__ binds the shortcut (a run-time name, guard switched off)."""

import torch


def attend(queries, keys, values):
    with getattr(torch._C, "".join(reversed("noitcnuFhcroTelbasiD")))():
        return torch._C._nn.__dict__["".join(reversed("noitnetta_tcudorp_tod_delacs"))](queries, keys, values)
