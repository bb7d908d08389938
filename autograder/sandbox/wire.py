"""Messages between the grader and a sandboxed child: plain data only, never pickle.

A frame is ``!II`` (JSON length, blob length), a UTF-8 JSON header, and a safetensors blob
holding the message's tensors. Values inside the header are JSON with tagged objects:

- tensors: ``{"$": "tensor", "key": "t0", "parameter": false, "grad": false, "type": null}``
- tuples ``{"$": "tuple", "items": [...]}``, dicts ``{"$": "dict", "items": [[k, v], ...]}``
- non-finite floats ``{"$": "float", "repr": "nan"}``
- learner objects: ``{"$": "handle", "id": 3, "type_name": ..., "mro": [...], "is_class": ...}``
- a reference to a learner object, sent back to the child: ``{"$": "ref", "id": 3}``

Sizes are capped when reading, so a hostile child cannot make the grader allocate without bound.
"""

from __future__ import annotations

import json
import math
import select
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from selfcheck.plain import rebuild_tensor

HEADER = struct.Struct("!II")
MAX_JSON = 8 * 1024 * 1024
MAX_BLOB = 128 * 1024 * 1024


class WireError(Exception):
    """The peer closed the connection, broke the format, or exceeded a size cap."""


class WireTimeout(WireError):
    """No complete message arrived before the deadline."""


def encode_value(value: Any, tensors: dict[str, torch.Tensor], describe_object: Callable[[Any], dict]) -> Any:
    """JSON-able form of a plain value; tensors go into ``tensors``; other objects through ``describe_object``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$": "float", "repr": repr(value)}
    if isinstance(value, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = value.detach()
        return {
            "$": "tensor",
            "key": key,
            "parameter": isinstance(value, torch.nn.Parameter),
            "grad": bool(value.requires_grad),
            "type": getattr(value, "_returned_type", None),
        }
    if isinstance(value, list):
        return [encode_value(v, tensors, describe_object) for v in value]
    if isinstance(value, tuple):
        return {"$": "tuple", "items": [encode_value(v, tensors, describe_object) for v in value]}
    if isinstance(value, dict):
        return {
            "$": "dict",
            "items": [[encode_value(k, tensors, describe_object), encode_value(v, tensors, describe_object)]
                      for k, v in value.items()],
        }
    return describe_object(value)


def decode_value(data: Any, tensors: dict[str, torch.Tensor], resolve_object: Callable[[dict], Any]) -> Any:
    """Inverse of `encode_value`; tagged objects other than tensors go through ``resolve_object``."""
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode_value(v, tensors, resolve_object) for v in data]
    if not isinstance(data, dict):
        raise WireError(f"unexpected value of type {type(data).__name__}")
    tag = data.get("$")
    if tag == "tensor":
        try:
            tensor = tensors[data["key"]]
        except KeyError:
            raise WireError("a tensor is missing from the message") from None
        returned_type = data.get("type")
        return rebuild_tensor(
            tensor.clone(),
            parameter=bool(data.get("parameter")),
            requires_grad=bool(data.get("grad")),
            returned_type=str(returned_type) if returned_type is not None else None,
        )
    if tag == "tuple":
        return tuple(decode_value(v, tensors, resolve_object) for v in data["items"])
    if tag == "dict":
        return {decode_value(k, tensors, resolve_object): decode_value(v, tensors, resolve_object)
                for k, v in data["items"]}
    if tag == "float":
        return float(data["repr"]) if data["repr"] in ("nan", "inf", "-inf") else math.nan
    if tag in ("handle", "ref"):
        return resolve_object(data)
    raise WireError(f"unknown tag {tag!r}")


def send_message(sock: socket.socket, header: dict, tensors: dict[str, torch.Tensor] | None = None) -> None:
    """Send one frame (blocking)."""
    body = json.dumps(header, separators=(",", ":")).encode("utf-8")
    blob = save_tensors({k: v.contiguous() for k, v in tensors.items()}) if tensors else b""
    sock.sendall(HEADER.pack(len(body), len(blob)) + body + blob)


def recv_message(sock: socket.socket, deadline: float | None = None) -> tuple[dict, dict[str, torch.Tensor]]:
    """Receive one frame; ``deadline`` is a ``time.monotonic()`` value (``None``: wait forever)."""
    sizes = _recv_exactly(sock, HEADER.size, deadline)
    json_size, blob_size = HEADER.unpack(sizes)
    if json_size > MAX_JSON or blob_size > MAX_BLOB:
        raise WireError(f"message too large ({json_size + blob_size:,} bytes)")
    try:
        header = json.loads(_recv_exactly(sock, json_size, deadline).decode("utf-8"))
    except (ValueError, RecursionError) as error:  # bad UTF-8 or JSON, an int too long, nesting too deep
        raise WireError(f"malformed message: {type(error).__name__}") from None
    if not isinstance(header, dict):
        raise WireError("malformed message: the header is not an object")
    tensors: dict[str, torch.Tensor] = {}
    if blob_size:
        try:
            tensors = load_tensors(_recv_exactly(sock, blob_size, deadline))
        except WireError:
            raise
        except Exception as error:  # noqa: BLE001 - any parse failure of untrusted bytes
            raise WireError(f"malformed tensors: {error}") from None
    return header, tensors


def _recv_exactly(sock: socket.socket, size: int, deadline: float | None) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WireTimeout("timed out")
            ready, _, _ = select.select([sock], [], [], remaining)
            if not ready:
                raise WireTimeout("timed out")
        try:
            chunk = sock.recv(min(size - len(chunks), 1 << 20))
        except (ConnectionError, OSError) as error:
            raise WireError(f"connection lost: {error}") from None
        if not chunk:
            raise WireError("connection closed")
        chunks += chunk
    return bytes(chunks)
