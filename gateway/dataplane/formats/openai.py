"""OpenAI ingress: request validation and stream encoding.

Validation checks shape and ranges only, and reports the offending parameter the
way OpenAI does (`param`), so a client sees a precise 400 from the gateway rather
than a vaguer one from whichever upstream the route picks. Unknown fields pass.
"""
from __future__ import annotations

import json

from ..errors import GatewayError, sse_error_event
from . import INT32_MAX, INT64

__all__ = ["DONE", "encode_chunk", "encode_error", "validate_chat_request", "validate_embeddings_request"]

DONE = b"data: [DONE]\n\n"
ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_NUMBER = (int, float)
# name -> (types, min, max). Bounds are OpenAI's documented ones; token counts are 32-bit (INT32_MAX).
_SCALARS: dict[str, tuple[tuple[type, ...], float | None, float | None]] = {
    "n": ((int,), 1, 128),
    "max_tokens": ((int,), 1, INT32_MAX),
    "max_completion_tokens": ((int,), 1, INT32_MAX),
    "temperature": (_NUMBER, 0, 2),
    "top_p": (_NUMBER, 0, 1),
    "presence_penalty": (_NUMBER, -2, 2),
    "frequency_penalty": (_NUMBER, -2, 2),
    "seed": ((int,), *INT64),
    "top_logprobs": ((int,), 0, 20),
    "stream": ((bool,), None, None),
    "logprobs": ((bool,), None, None),
    "parallel_tool_calls": ((bool,), None, None),
    "user": ((str,), None, None),
    "stream_options": ((dict,), None, None),
    "response_format": ((dict,), None, None),
    "metadata": ((dict,), None, None),
    "logit_bias": ((dict,), None, None),
    "tools": ((list,), None, None),
    "tool_choice": ((str, dict), None, None),
    "stop": ((str, list), None, None),
}
# No embedding model has more dimensions (OpenAI's largest has 3072); a vector's size is memory.
EMBEDDING_DIMENSIONS_MAX = 65_536
_TYPE_NAMES = {int: "an integer", float: "a number", bool: "a boolean", str: "a string", dict: "an object",
               list: "an array"}


def _fail(message: str, param: str, code: str = "invalid_value") -> GatewayError:
    return GatewayError(400, code, message, param=param)


def _is(value: object, types: tuple[type, ...]) -> bool:
    # JSON booleans are Python ints; they are never a valid number here.
    if isinstance(value, bool):
        return bool in types
    return isinstance(value, types)


def _scalar(body: dict, name: str) -> None:
    value = body.get(name)
    if value is None:
        return
    types, lo, hi = _SCALARS[name]
    if not _is(value, types):
        expected = " or ".join(_TYPE_NAMES[t] for t in types if t is not float or int not in types)
        raise _fail(f"'{name}' must be {expected}", name, "invalid_type")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bound = f"at least {lo}" if hi is None else f"between {lo} and {hi}"
        raise _fail(f"'{name}' must be {bound}, got {value}", name)


def _model(body: dict) -> None:
    model = body.get("model")
    if model is None:
        raise _fail("'model' is required", "model", "missing_required_parameter")
    if not isinstance(model, str) or not model:
        raise _fail("'model' must be a non-empty string", "model", "invalid_type")


def validate_chat_request(body: dict) -> dict:
    """The body itself if it is a well-formed chat request; else a 400 GatewayError."""
    _model(body)
    messages = body.get("messages")
    if messages is None:
        raise _fail("'messages' is required", "messages", "missing_required_parameter")
    if not isinstance(messages, list) or not messages:
        raise _fail("'messages' must be a non-empty array", "messages", "invalid_type")
    for name in _SCALARS.keys() & body.keys():
        _scalar(body, name)
    for i, message in enumerate(messages):
        _message(message, f"messages[{i}]")
    if isinstance(body.get("stop"), list) and not all(isinstance(s, str) for s in body["stop"]):
        raise _fail("'stop' must be a string or an array of strings", "stop", "invalid_type")
    for i, tool in enumerate(body.get("tools") or ()):
        _tool(tool, f"tools[{i}]")
    choice = body.get("tool_choice")
    if isinstance(choice, str) and choice not in ("none", "auto", "required"):
        raise _fail("'tool_choice' must be 'none', 'auto', 'required' or an object", "tool_choice")
    return body


def _message(m: object, p: str) -> None:
    if not isinstance(m, dict):
        raise _fail(f"'{p}' must be an object", p, "invalid_type")
    role = m.get("role")
    if not isinstance(role, str) or role not in ROLES:  # a dict or list is unhashable: `in` would raise
        raise _fail(f"'{p}.role' must be one of {', '.join(sorted(ROLES))}", f"{p}.role")
    content = m.get("content")
    if content is None:
        if role != "assistant":  # only assistant turns may carry tool calls instead of content
            raise _fail(f"'{p}.content' is required for role '{role}'", f"{p}.content", "missing_required_parameter")
    elif isinstance(content, list):
        for j, part in enumerate(content):
            _part(part, f"{p}.content[{j}]")
    elif not isinstance(content, str):
        raise _fail(f"'{p}.content' must be a string or an array of parts", f"{p}.content", "invalid_type")
    if role == "tool" and not isinstance(m.get("tool_call_id"), str):
        raise _fail(f"'{p}.tool_call_id' must be a string", f"{p}.tool_call_id", "invalid_type")
    calls = m.get("tool_calls")
    if calls is not None:
        if role != "assistant" or not isinstance(calls, list):
            raise _fail(f"'{p}.tool_calls' must be an array on an assistant message", f"{p}.tool_calls", "invalid_type")
        for k, call in enumerate(calls):
            _call(call, f"{p}.tool_calls[{k}]")


def _part(part: object, p: str) -> None:
    if not isinstance(part, dict) or not isinstance(part.get("type"), str):
        raise _fail(f"'{p}' must be an object with a string 'type'", p, "invalid_type")
    kind = part["type"]
    if kind == "text" and not isinstance(part.get("text"), str):
        raise _fail(f"'{p}.text' must be a string", f"{p}.text", "invalid_type")
    if kind == "image_url":
        ref = part.get("image_url")
        url = ref.get("url") if isinstance(ref, dict) else ref
        if not isinstance(url, str) or not url:
            raise _fail(f"'{p}.image_url.url' must be a non-empty string", f"{p}.image_url.url", "invalid_type")


def _call(call: object, p: str) -> None:
    fn = call.get("function") if isinstance(call, dict) else None
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        raise _fail(f"'{p}.function.name' must be a string", f"{p}.function.name", "invalid_type")
    if not isinstance(fn.get("arguments", ""), str):
        raise _fail(f"'{p}.function.arguments' must be a JSON string", f"{p}.function.arguments", "invalid_type")


def _tool(tool: object, p: str) -> None:
    if not isinstance(tool, dict):
        raise _fail(f"'{p}' must be an object", p, "invalid_type")
    if tool.get("type", "function") == "function":
        fn = tool.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise _fail(f"'{p}.function.name' must be a non-empty string", f"{p}.function.name", "invalid_type")


def _token(value: object) -> bool:
    return _is(value, (int,)) and 0 <= value <= INT32_MAX


def validate_embeddings_request(body: dict) -> dict:
    _model(body)
    raw = body.get("input")
    ok = isinstance(raw, str) or (
        isinstance(raw, list) and raw and (
            all(isinstance(x, str) for x in raw)
            or all(_token(x) for x in raw)
            or all(isinstance(x, list) and x and all(_token(t) for t in x) for x in raw)))
    if not ok:
        raise _fail("'input' must be a string, an array of strings or an array of token arrays "
                    f"(token ids between 0 and {INT32_MAX})", "input", "invalid_type")
    dims = body.get("dimensions")
    if dims is not None and (not _is(dims, (int,)) or not 1 <= dims <= EMBEDDING_DIMENSIONS_MAX):
        raise _fail(f"'dimensions' must be an integer between 1 and {EMBEDDING_DIMENSIONS_MAX}", "dimensions")
    if body.get("encoding_format") not in (None, "float", "base64"):
        raise _fail("'encoding_format' must be 'float' or 'base64'", "encoding_format")
    return body


def encode_chunk(chunk: dict) -> bytes:
    return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"


def encode_error(err: GatewayError) -> bytes:
    """The event for a failure after the first byte; follow it with DONE."""
    return sse_error_event(err, "openai")
