"""Canonical (OpenAI) requests -> Gemini generateContent / batchEmbedContents."""
from __future__ import annotations

import json
import mimetypes

from ..canonical import parse_data_url, text_of
from ..errors import GatewayError

__all__ = ["SIGNATURE_SEP", "model_path", "split_call_id", "to_gemini", "to_gemini_embeddings"]

# Gemini 3 rejects a replayed function call without the thought signature it came
# with, and OpenAI's format has nowhere to keep one. It rides in the tool-call id,
# which every client echoes back verbatim.
SIGNATURE_SEP = "__thought__"
_MODES = {"auto": "AUTO", "required": "ANY", "none": "NONE"}
# JSON-Schema keywords outside the OpenAPI subset Gemini's `parameters` accepts.
_UNSUPPORTED_SCHEMA_KEYS = frozenset({"$schema", "additionalProperties", "strict"})


def model_path(model: str) -> str:
    return model if model.startswith(("models/", "tunedModels/")) else "models/" + model


def split_call_id(call_id: str) -> tuple[str, str | None]:
    base, sep, signature = call_id.partition(SIGNATURE_SEP)
    return base, (signature or None) if sep else None


def _bad(message: str, param: str) -> GatewayError:
    return GatewayError(400, "unsupported_parameter", message, param=param)


def to_gemini(canonical: dict) -> dict:
    system, contents = _contents(canonical.get("messages") or [])
    body: dict = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": system}
    config = _generation_config(canonical)
    if config:
        body["generationConfig"] = config
    _tools(canonical, body)
    return body


def _generation_config(c: dict) -> dict:
    config: dict = {}
    pairs = (("temperature", "temperature"), ("top_p", "topP"), ("seed", "seed"),
             ("presence_penalty", "presencePenalty"), ("frequency_penalty", "frequencyPenalty"), ("n", "candidateCount"))
    for src, dst in pairs:
        if c.get(src) is not None:
            config[dst] = c[src]
    max_tokens = c.get("max_completion_tokens") or c.get("max_tokens")
    if max_tokens:
        config["maxOutputTokens"] = max_tokens
    stop = c.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else stop
    fmt = c.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
        schema = (fmt.get("json_schema") or {}).get("schema")
        if schema:
            config["responseSchema"] = clean_schema(schema)
    return config


def clean_schema(schema: object) -> object:
    if isinstance(schema, dict):
        return {k: clean_schema(v) for k, v in schema.items() if k not in _UNSUPPORTED_SCHEMA_KEYS}
    if isinstance(schema, list):
        return [clean_schema(v) for v in schema]
    return schema


def _tools(c: dict, body: dict) -> None:
    tools = c.get("tools")
    if not tools:
        return
    declarations = []
    for i, tool in enumerate(tools):
        if tool.get("type", "function") != "function":
            raise _bad(f"tool type {tool.get('type')!r} cannot be sent to Gemini", f"tools[{i}].type")
        fn = tool.get("function") or {}
        decl = {"name": fn.get("name")}
        if fn.get("description"):
            decl["description"] = fn["description"]
        if fn.get("parameters"):
            decl["parameters"] = clean_schema(fn["parameters"])
        declarations.append(decl)
    body["tools"] = [{"functionDeclarations": declarations}]
    choice = c.get("tool_choice")
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        body["toolConfig"] = {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    elif choice in _MODES:
        body["toolConfig"] = {"functionCallingConfig": {"mode": _MODES[choice]}}


def _contents(messages: list) -> tuple[list, list]:
    system: list[dict] = []
    out: list[dict] = []
    names: dict[str, str] = {}  # tool_call_id -> function name: functionResponse is matched by name
    for i, m in enumerate(messages):
        role = m.get("role")
        if role in ("system", "developer"):
            system.extend(_parts(m.get("content"), i))
        elif role in ("tool", "function"):
            name = names.get(m.get("tool_call_id") or "") or m.get("name") or ""
            _append(out, "user", [{"functionResponse": {"name": name, "response": _response(m.get("content"))}}])
        elif role == "assistant":
            _append(out, "model", _parts(m.get("content"), i) + _calls(m, names))
        else:
            _append(out, "user", _parts(m.get("content"), i))
    return system, out


def _append(out: list[dict], role: str, parts: list[dict]) -> None:
    """Gemini wants alternating turns; parallel function responses share one."""
    if not parts:
        return
    if out and out[-1]["role"] == role:
        out[-1]["parts"].extend(parts)
    else:
        out.append({"role": role, "parts": parts})


def _parts(content: object, i: int) -> list[dict]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    parts = []
    for j, part in enumerate(content or []):
        kind = part.get("type")
        param = f"messages[{i}].content[{j}]"
        if kind in ("text", "refusal"):
            text = part.get("text") or part.get("refusal")
            if text:
                parts.append({"text": text})
        elif kind == "image_url":
            ref = part.get("image_url")
            parts.append(_media(ref.get("url") if isinstance(ref, dict) else ref, param))
        elif kind == "file":
            parts.append(_media((part.get("file") or {}).get("file_data"), param))
        else:
            raise _bad(f"content part type {kind!r} cannot be sent to Gemini", param)
    return parts


def _media(url: object, param: str) -> dict:
    if not isinstance(url, str) or not url:
        raise GatewayError(400, "invalid_request", "a media part needs a URL or inline data", param=param)
    parsed = parse_data_url(url) if url.startswith("data:") else None
    if parsed is not None:
        return {"inlineData": {"mimeType": parsed[0], "data": parsed[1]}}
    if url.startswith("data:"):
        raise GatewayError(400, "invalid_request", "inline data URLs must be base64", param=param)
    mime = mimetypes.guess_type(url.split("?", 1)[0])[0] or "image/jpeg"
    return {"fileData": {"mimeType": mime, "fileUri": url}}


def _calls(m: dict, names: dict[str, str]) -> list[dict]:
    parts = []
    for call in m.get("tool_calls") or []:
        fn = call.get("function") or {}
        _, signature = split_call_id(call.get("id") or "")
        names[call.get("id") or ""] = fn.get("name") or ""
        part: dict = {"functionCall": {"name": fn.get("name"), "args": _args(fn.get("arguments"))}}
        if signature:
            part["thoughtSignature"] = signature
        parts.append(part)
    return parts


def _args(raw: object) -> dict:
    try:
        value = json.loads(raw) if isinstance(raw, str) and raw else raw
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _response(content: object) -> dict:
    """functionResponse.response must be an object; plain text is wrapped."""
    text = text_of(content)  # a tool result's text parts; any other part has no text to send
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    return value if isinstance(value, dict) else {"result": text}


def to_gemini_embeddings(canonical: dict, model: str) -> dict:
    inputs = canonical.get("input")
    texts = [inputs] if isinstance(inputs, str) else inputs
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise _bad("Gemini embeddings take text input, not token arrays", "input")
    path = model_path(model)
    dims = canonical.get("dimensions")
    requests = []
    for text in texts:
        req: dict = {"model": path, "content": {"parts": [{"text": text}]}}
        if dims:
            req["outputDimensionality"] = dims
        requests.append(req)
    return {"requests": requests}
