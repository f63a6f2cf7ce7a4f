"""Anthropic Messages ingress (`/anthropic/v1/messages`) <-> canonical.

Used only when the route's upstream is not Anthropic (otherwise the body passes
through). What Chat Completions cannot express is refused with a 400 naming the
parameter (server tools, URL documents) or dropped where harmless (thinking
blocks of earlier turns, top_k).
"""
from __future__ import annotations

import json

from ..canonical import Usage, text_of, usage_from_dict
from ..errors import GatewayError
from . import INT32_MAX, echo

__all__ = ["STOP_REASONS", "anthropic_usage_dict", "from_canonical", "message_id", "to_canonical"]

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use",
                "content_filter": "refusal"}
_TOOL_CHOICE = {"auto": "auto", "any": "required", "none": "none"}
_DROPPED_BLOCKS = frozenset({"thinking", "redacted_thinking"})


def _fail(message: str, param: str, code: str = "invalid_request") -> GatewayError:
    return GatewayError(400, code, message, param=param)


def _require(ok: bool, message: str, param: str) -> None:
    if not ok:
        raise _fail(message, param)


def _count(value: object, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= INT32_MAX


def _counts(body: dict) -> None:
    """The integers a pass-through sends on as they are (top_k, thinking.budget_tokens), bounded alike."""
    top_k = body.get("top_k")
    _require(top_k is None or _count(top_k, 0), f"top_k: an integer between 0 and {INT32_MAX} is required", "top_k")
    thinking = body.get("thinking")
    budget = thinking.get("budget_tokens") if isinstance(thinking, dict) else None
    _require(budget is None or _count(budget, 1),
             f"thinking.budget_tokens: an integer between 1 and {INT32_MAX} is required", "thinking.budget_tokens")


def to_canonical(body: dict) -> dict:
    """A validated Anthropic request as a canonical chat request."""
    model, max_tokens, messages = body.get("model"), body.get("max_tokens"), body.get("messages")
    _require(isinstance(model, str) and bool(model), "model: a non-empty string is required", "model")
    _require(_count(max_tokens, 1), f"max_tokens: an integer between 1 and {INT32_MAX} is required", "max_tokens")
    _require(isinstance(messages, list) and bool(messages), "messages: a non-empty array is required", "messages")
    _counts(body)
    # A truthy non-boolean would stream upstream while the answer is framed as one JSON body.
    _require(body.get("stream") is None or isinstance(body.get("stream"), bool), "stream: true or false is required",
             "stream")
    out: dict = {"model": model, "messages": _system(body.get("system")), "max_tokens": max_tokens}
    for i, m in enumerate(messages):
        out["messages"].extend(_message(m, i))
    _options(body, out)
    _tools(body, out)
    return out


def _options(body: dict, out: dict) -> None:
    stop = body.get("stop_sequences")
    if stop is not None:
        _require(isinstance(stop, list) and all(isinstance(s, str) for s in stop),
                 "stop_sequences: an array of strings is required", "stop_sequences")
        out["stop"] = stop
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if value is not None:
            _require(isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1,
                     f"{name}: a number between 0 and 1 is required", name)
            out[name] = value
    user = (body.get("metadata") or {}).get("user_id") if isinstance(body.get("metadata"), dict) else None
    if isinstance(user, str) and user:
        out["user"] = user
    if body.get("stream") is True:
        # The client reads usage in message_delta, so the usage chunk is always wanted.
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}


def _system(system: object) -> list[dict]:
    if system is None or system == "":
        return []
    if isinstance(system, str):
        return [{"role": "system", "content": system}]
    _require(isinstance(system, list), "system: a string or an array of text blocks is required", "system")
    parts = [_text_part(b, f"system[{i}]") for i, b in enumerate(system)]
    return [{"role": "system", "content": parts}] if parts else []


def _text_part(block: object, param: str) -> dict:
    _require(isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str),
             f"{param}: a text block is required", param)
    part = {"type": "text", "text": block["text"]}
    if "cache_control" in block:
        part["cache_control"] = block["cache_control"]  # harmless to others, kept for lossless round trips
    return part


def _message(m: object, i: int) -> list[dict]:
    p = f"messages[{i}]"
    _require(isinstance(m, dict) and m.get("role") in ("user", "assistant"),
             f"{p}.role: 'user' or 'assistant' is required", f"{p}.role")
    content = m.get("content")
    if isinstance(content, str):
        return [{"role": m["role"], "content": content}]
    _require(isinstance(content, list), f"{p}.content: a string or an array of blocks is required", f"{p}.content")
    if m["role"] == "assistant":
        return [_assistant(content, p)]
    return _user(content, p)


def _assistant(blocks: list, p: str) -> dict:
    texts, calls = [], []
    for j, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(_text_part(block, f"{p}.content[{j}]")["text"])
        elif kind == "tool_use":
            param = f"{p}.content[{j}]"
            _require(isinstance(block.get("id"), str) and isinstance(block.get("name"), str),
                     f"{param}: tool_use needs a string id and name", param)
            args = json.dumps(block.get("input") or {}, ensure_ascii=False, separators=(",", ":"))
            calls.append({"id": block.get("id"), "type": "function",
                          "function": {"name": block.get("name"), "arguments": args}})
        elif kind not in _DROPPED_BLOCKS:
            raise _fail(f"{p}.content[{j}]: block type {echo(repr(kind))} cannot be sent to this route's provider",
                        f"{p}.content[{j}].type", "unsupported_parameter")
    message: dict = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    return message


def _user(blocks: list, p: str) -> list[dict]:
    """Tool results become `tool` messages, which OpenAI wants right after the
    assistant's calls, so they go first; images inside them follow as user parts."""
    out, parts = [], []
    for j, block in enumerate(blocks):
        param = f"{p}.content[{j}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "tool_result":
            out.append(_tool_result(block, param, parts))
        elif kind == "text":
            parts.append(_text_part(block, param))
        elif kind in ("image", "document"):
            parts.append(_media(block, param))
        else:
            raise _fail(f"{param}: block type {echo(repr(kind))} cannot be sent to this route's provider",
                        f"{param}.type", "unsupported_parameter")
    if parts:
        only_text = len(parts) == 1 and set(parts[0]) == {"type", "text"}
        out.append({"role": "user", "content": parts[0]["text"] if only_text else parts})
    _require(bool(out), f"{p}.content: a user turn needs at least one block", f"{p}.content")
    return out


def _tool_result(block: dict, param: str, images: list) -> dict:
    _require(isinstance(block.get("tool_use_id"), str), f"{param}.tool_use_id: a string is required",
             f"{param}.tool_use_id")
    content = block.get("content")
    if isinstance(content, list):
        texts = []
        for k, inner in enumerate(content):
            if isinstance(inner, dict) and inner.get("type") == "image":
                images.append(_media(inner, f"{param}.content[{k}]"))  # tool messages cannot hold images
            else:
                texts.append(_text_part(inner, f"{param}.content[{k}]")["text"])
        content = "\n".join(texts)
    elif content is None:
        content = ""
    _require(isinstance(content, str), f"{param}.content: a string or an array of blocks is required", param)
    return {"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": content}


def _media(block: dict, param: str) -> dict:
    source = block.get("source") if isinstance(block.get("source"), dict) else {}
    kind = source.get("type")
    if kind == "base64":
        url = f"data:{source.get('media_type')};base64,{source.get('data')}"
        if block["type"] == "document":
            return {"type": "file", "file": {"file_data": url}}
        return {"type": "image_url", "image_url": {"url": url}}
    if kind == "url" and block["type"] == "image" and isinstance(source.get("url"), str):
        return {"type": "image_url", "image_url": {"url": source["url"]}}
    if kind == "text" and block["type"] == "document":
        return {"type": "text", "text": str(source.get("data") or "")}
    raise _fail(f"{param}: {block['type']} source {echo(repr(kind))} cannot be sent to this route's provider",
                f"{param}.source", "unsupported_parameter")


def _tools(body: dict, out: dict) -> None:
    tools = body.get("tools")
    if tools:
        _require(isinstance(tools, list), "tools: an array is required", "tools")
        out["tools"] = [_tool(t, f"tools[{i}]") for i, t in enumerate(tools)]
    choice = body.get("tool_choice")
    if not isinstance(choice, dict):
        return
    kind = choice.get("type")
    if kind == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    elif kind in _TOOL_CHOICE:
        out["tool_choice"] = _TOOL_CHOICE[kind]
    if choice.get("disable_parallel_tool_use") is True:
        out["parallel_tool_calls"] = False


def _tool(tool: object, param: str) -> dict:
    _require(isinstance(tool, dict) and isinstance(tool.get("name"), str), f"{param}.name: a string is required",
             f"{param}.name")
    if tool.get("type") not in (None, "custom"):
        raise _fail(f"{param}: server tool {echo(repr(tool.get('type')))} needs an Anthropic upstream", f"{param}.type",
                    "unsupported_parameter")
    fn = {"name": tool["name"], "parameters": tool.get("input_schema") or {"type": "object", "properties": {}}}
    if tool.get("description"):
        fn["description"] = tool["description"]
    return {"type": "function", "function": fn}


def message_id(canonical_id: object) -> str:
    raw = str(canonical_id or "")
    return raw if raw.startswith("msg_") else "msg_" + raw.removeprefix("chatcmpl-")


def anthropic_usage_dict(u: Usage | None) -> dict:
    """Anthropic counts cache reads and writes apart from input_tokens."""
    u = u or Usage()
    return {
        "input_tokens": max(u.input_tokens - u.cached_tokens - u.cache_write_tokens, 0),
        "output_tokens": u.output_tokens,
        "cache_creation_input_tokens": u.cache_write_tokens,
        "cache_read_input_tokens": u.cached_tokens,
    }


def _input(arguments: object) -> dict:
    try:
        value = json.loads(arguments) if isinstance(arguments, str) and arguments else {}
    except ValueError:
        value = {}  # a model's malformed JSON cannot be an Anthropic `input` object
    return value if isinstance(value, dict) else {}


def from_canonical(resp: dict, model: str | None = None) -> dict:
    choice = (resp.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    content: list[dict] = []
    text = text_of(message.get("content"))
    if text:
        content.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or ():
        fn = call.get("function") or {}
        content.append({"type": "tool_use", "id": call.get("id"), "name": fn.get("name"),
                        "input": _input(fn.get("arguments"))})
    return {
        "id": message_id(resp.get("id")),
        "type": "message",
        "role": "assistant",
        "model": model or resp.get("model") or "",
        "content": content,
        "stop_reason": STOP_REASONS.get(choice.get("finish_reason"), "end_turn"),
        "stop_sequence": None,
        "usage": anthropic_usage_dict(usage_from_dict(resp.get("usage"))),
    }
