"""Canonical (OpenAI) chat request -> Anthropic Messages request."""
from __future__ import annotations

import json

from ..canonical import parse_data_url
from ..errors import GatewayError

__all__ = ["image_block", "to_anthropic"]

# Anthropic requires max_tokens; 4096 fits every current Claude model's output limit.
DEFAULT_MAX_TOKENS = 4096
# OpenAI accepts temperature up to 2, Anthropic up to 1: clamp so a request valid
# for one stays valid when a route falls back to the other.
_MAX_TEMPERATURE = 1.0
_TOOL_CHOICE = {"auto": {"type": "auto"}, "required": {"type": "any"}, "none": {"type": "none"}}


def _bad(message: str, param: str) -> GatewayError:
    return GatewayError(400, "unsupported_parameter", message, param=param)


def to_anthropic(canonical: dict, model: str, stream: bool = False) -> dict:
    n = canonical.get("n")
    if n is not None and n != 1:
        raise _bad("Anthropic models return one choice; n must be 1", "n")
    system, messages = _messages(canonical.get("messages") or [])
    body: dict = {"model": model or canonical.get("model"), "messages": messages}
    body["max_tokens"] = canonical.get("max_completion_tokens") or canonical.get("max_tokens") or DEFAULT_MAX_TOKENS
    if system:
        body["system"] = system
    _sampling(canonical, body)
    _tools(canonical, body)
    user = canonical.get("user")
    if isinstance(user, str) and user:
        body["metadata"] = {"user_id": user}
    if stream:
        body["stream"] = True
    return body


def _sampling(canonical: dict, body: dict) -> None:
    temperature = canonical.get("temperature")
    if isinstance(temperature, (int, float)):
        body["temperature"] = min(temperature, _MAX_TEMPERATURE)
    if canonical.get("top_p") is not None:
        body["top_p"] = canonical["top_p"]
    stop = canonical.get("stop")
    if isinstance(stop, str):
        body["stop_sequences"] = [stop]
    elif isinstance(stop, list) and stop:
        body["stop_sequences"] = stop


def _tools(canonical: dict, body: dict) -> None:
    tools = canonical.get("tools")
    if not tools:
        return
    out = []
    for i, tool in enumerate(tools):
        if tool.get("type", "function") != "function":
            raise _bad(f"tool type {tool.get('type')!r} cannot be sent to Anthropic", f"tools[{i}].type")
        fn = tool.get("function") or {}
        spec = {"name": fn.get("name"), "input_schema": fn.get("parameters") or {"type": "object", "properties": {}}}
        if fn.get("description"):
            spec["description"] = fn["description"]
        out.append(spec)
    body["tools"] = out
    choice = canonical.get("tool_choice")
    no_parallel = canonical.get("parallel_tool_calls") is False
    if isinstance(choice, dict):
        mapped = {"type": "tool", "name": (choice.get("function") or {}).get("name")}
    elif choice in _TOOL_CHOICE:
        mapped = dict(_TOOL_CHOICE[choice])
    elif no_parallel:
        mapped = {"type": "auto"}  # the parallel switch lives on tool_choice in Anthropic's API
    else:
        return
    if no_parallel and mapped["type"] != "none":
        mapped["disable_parallel_tool_use"] = True
    body["tool_choice"] = mapped


def _messages(messages: list) -> tuple[str | list | None, list]:
    system: list[dict] = []
    out: list[dict] = []
    for i, m in enumerate(messages):
        role = m.get("role")
        if role in ("system", "developer"):
            system.extend(_blocks(m.get("content"), i))
        elif role in ("tool", "function"):
            _append(out, "user", [_tool_result(m, i)])
        elif role == "assistant":
            _append(out, "assistant", _blocks(m.get("content"), i) + _tool_uses(m))
        else:
            _append(out, "user", _blocks(m.get("content"), i))
    if len(system) == 1 and set(system[0]) == {"type", "text"}:
        return system[0]["text"], out
    return system or None, out


def _append(out: list[dict], role: str, blocks: list[dict]) -> None:
    """Merge same-role turns: parallel tool results must share one user turn."""
    if not blocks:
        return  # Anthropic rejects empty turns
    if out and out[-1]["role"] == role:
        out[-1]["content"].extend(blocks)
    else:
        out.append({"role": role, "content": blocks})


def _blocks(content: object, i: int) -> list[dict]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks = []
    for j, part in enumerate(content or []):
        block = _block(part, f"messages[{i}].content[{j}]")
        if block is not None:
            blocks.append(block)
    return blocks


def _block(part: dict, param: str) -> dict | None:
    kind = part.get("type")
    if kind in ("text", "refusal"):
        text = part.get("text") or part.get("refusal") or ""
        if not text:
            return None  # Anthropic rejects empty text blocks
        block = {"type": "text", "text": text}
        if "cache_control" in part:
            block["cache_control"] = part["cache_control"]  # kept when the client knows Anthropic's caching
        return block
    if kind == "image_url":
        ref = part.get("image_url")
        return image_block(ref.get("url") if isinstance(ref, dict) else ref, param)
    if kind == "file":
        return _document(part.get("file") or {}, param)
    raise _bad(f"content part type {kind!r} cannot be sent to Anthropic", param)


def image_block(url: object, param: str) -> dict:
    if not isinstance(url, str) or not url:
        raise GatewayError(400, "invalid_request", "image_url.url must be a non-empty string", param=param)
    if url.startswith("data:"):
        parsed = parse_data_url(url)
        if parsed is None:
            raise GatewayError(400, "invalid_request", "image data URLs must be base64", param=param)
        return {"type": "image", "source": {"type": "base64", "media_type": parsed[0], "data": parsed[1]}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _document(file: dict, param: str) -> dict:
    parsed = parse_data_url(file.get("file_data") or "")
    if parsed is None:
        raise _bad("only inline base64 files (file_data) can be sent to Anthropic", param)
    return {"type": "document", "source": {"type": "base64", "media_type": parsed[0], "data": parsed[1]}}


def _tool_uses(m: dict) -> list[dict]:
    calls = m.get("tool_calls") or []
    if not calls and isinstance(m.get("function_call"), dict):
        calls = [{"id": "call_0", "function": m["function_call"]}]  # the legacy single-function field
    return [
        {"type": "tool_use", "id": c.get("id"), "name": c["function"].get("name"),
         "input": _arguments(c["function"].get("arguments"))}
        for c in calls
    ]


def _arguments(raw: object) -> dict:
    # Anthropic needs an object; a model's earlier malformed JSON cannot be represented, so it becomes {}.
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _tool_result(m: dict, i: int) -> dict:
    content = m.get("content")
    block = {"type": "tool_result", "tool_use_id": m.get("tool_call_id") or m.get("name")}
    block["content"] = content if isinstance(content, str) else _blocks(content, i)
    return block
