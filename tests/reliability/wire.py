"""Requests in each ingress format, and checks that an answer is that format's (errors included)."""
from __future__ import annotations

import json

import httpx

ANTHROPIC_VERSION = "2023-06-01"  # the version header the Anthropic SDK sends
MAX_TOKENS = 64  # enough for the fakes' echo replies


def chat_request(ingress: str, model: str, secret: str, *, stream=False, text="hello there") -> tuple[str, dict, dict]:
    """(path, json body, headers) of one chat call in the ingress's own wire format."""
    messages = [{"role": "user", "content": text}]
    if ingress == "anthropic":
        headers = {"x-api-key": secret, "anthropic-version": ANTHROPIC_VERSION}
        body = {"model": model, "max_tokens": MAX_TOKENS, "messages": messages, "stream": stream}
        return "/anthropic/v1/messages", body, headers
    body = {"model": model, "messages": messages, "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}
    return "/v1/chat/completions", body, {"authorization": f"Bearer {secret}"}


def json_bytes(body: dict) -> bytes:
    return json.dumps(body).encode()


def answer_problems(ingress: str, response: httpx.Response) -> list[str]:
    """What is wrong with a 200 JSON answer: not a chat completion, embedding list or Anthropic message."""
    try:
        body = response.json()
    except ValueError:
        return [f"200 body is not JSON: {response.text[:80]!r}"]
    expected = "content" if ingress == "anthropic" else ("data" if body.get("object") == "list" else "choices")
    return [] if isinstance(body, dict) and expected in body else [f"200 body has no {expected}"]


def error_problems(ingress: str, response: httpx.Response) -> list[str]:
    """What is wrong with an error answer: not the caller's envelope, no code, no request id."""
    problems = [] if response.headers.get("x-request-id") else ["no x-request-id"]
    try:
        body = response.json()
    except ValueError:
        return [*problems, f"body is not JSON: {response.text[:80]!r}"]
    return problems + envelope_problems(ingress, body)


def envelope_problems(ingress: str, body) -> list[str]:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return [f"not an error envelope: {str(body)[:80]}"]
    if ingress == "anthropic":  # Anthropic's envelope: the machine code is error.type
        return [] if body.get("type") == "error" and error.get("type") else ["no type/error.type"]
    return [] if error.get("code") and error.get("type") else ["no error.code/type"]


def sse_events(ingress: str, text: str) -> list:
    """The data payloads of a stream: parsed JSON objects, or the string '[DONE]'."""
    out = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            out.append(data)
            continue
        try:
            out.append(json.loads(data))
        except ValueError:
            out.append({"unparsable": data[:80]})
    return out


def stream_outcome(ingress: str, text: str) -> tuple[str, list[str]]:
    """How a stream ended: 'complete' (its end marker), 'error' (an error event; problems if not in the
    caller's envelope), 'unparsable' (an event that is not JSON reached the client) or 'unterminated'."""
    events = sse_events(ingress, text)
    if not events:
        return "unterminated", []
    last = events[-1]
    if isinstance(last, dict) and "error" in last:
        return "error", envelope_problems(ingress, last)
    if any(isinstance(e, dict) and "unparsable" in e for e in events):
        return "unparsable", []
    done = last == "[DONE]" if ingress == "openai" else isinstance(last, dict) and last.get("type") == "message_stop"
    return ("complete" if done else "unterminated"), []
