"""The sandbox wire format carries plain data exactly and refuses anything else."""

from __future__ import annotations

import math
import socket
import struct
import threading
import time

import pytest
import torch

from autograder.sandbox.wire import (
    HEADER,
    WireError,
    WireTimeout,
    decode_value,
    encode_value,
    recv_message,
    send_message,
)


def _roundtrip(value: object) -> object:
    tensors: dict[str, torch.Tensor] = {}
    encoded = encode_value(value, tensors, lambda obj: {"$": "handle", "id": 1})
    a, b = socket.socketpair()
    with a, b:
        send_message(a, {"value": encoded}, tensors)
        header, received = recv_message(b, time.monotonic() + 5)
    return decode_value(header["value"], received, lambda data: ("handle", data["id"]))


def test_plain_values_round_trip_exactly() -> None:
    value = {
        "ints": [0, -1, 10**30],
        "floats": (1.5, math.inf, -math.inf),
        "text": "héllo",
        "flags": [True, False, None],
        "pairs": [(0, 0), (1, 0)],
        7: "int key",
    }
    assert _roundtrip(value) == value
    assert math.isnan(_roundtrip(math.nan))


def test_tensors_keep_dtype_shape_parameter_and_grad() -> None:
    tensors = [torch.randn(2, 3), torch.arange(5), torch.ones(2, 2).bool(), torch.zeros(0, 4),
               torch.nn.Parameter(torch.rand(3, 2)), torch.randn(3, requires_grad=True)]
    back = _roundtrip(tensors)
    for original, copy in zip(tensors, back, strict=True):
        assert copy.dtype == original.dtype and copy.shape == original.shape
        assert torch.equal(copy.detach(), original.detach())
        assert isinstance(copy, torch.nn.Parameter) == isinstance(original, torch.nn.Parameter)
        assert copy.requires_grad == original.requires_grad


def test_objects_become_handles() -> None:
    assert _roundtrip([object()]) == [("handle", 1)]


def test_size_caps_and_malformed_frames_are_refused() -> None:
    a, b = socket.socketpair()
    with a, b:
        a.sendall(HEADER.pack(2**31, 0))
        with pytest.raises(WireError, match="too large"):
            recv_message(b, time.monotonic() + 5)
    a, b = socket.socketpair()
    with a, b:
        body = b"not json"
        a.sendall(struct.pack("!II", len(body), 0) + body)
        with pytest.raises(WireError, match="malformed"):
            recv_message(b, time.monotonic() + 5)
    a, b = socket.socketpair()
    with a, b:
        body, blob = b"{}", b"garbage tensors"
        a.sendall(struct.pack("!II", len(body), len(blob)) + body + blob)
        with pytest.raises(WireError, match="malformed tensors"):
            recv_message(b, time.monotonic() + 5)


def test_silence_times_out_and_a_closed_peer_is_an_error() -> None:
    a, b = socket.socketpair()
    with a, b:
        with pytest.raises(WireTimeout):
            recv_message(b, time.monotonic() + 0.2)
        threading.Timer(0.1, a.close).start()
        with pytest.raises(WireError, match="closed"):
            recv_message(b, time.monotonic() + 5)


def test_unknown_tags_are_refused() -> None:
    with pytest.raises(WireError, match="unknown tag"):
        decode_value({"$": "pickle", "data": "..."}, {}, lambda d: None)
