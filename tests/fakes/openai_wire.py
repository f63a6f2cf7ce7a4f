"""OpenAI's wire format: /v1/chat/completions, /v1/embeddings, /v1/models."""
from __future__ import annotations

import base64
import struct

from tests.fakes.base import Call, Event, Reply, Wire, message_for
from tests.fakes.content import Plan, embedding, plan, words

CREATED = 1_700_000_000  # fixed epoch seconds: responses are byte-for-byte reproducible


def _text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts; images and audio carry no words
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _fragments(text: str, size: int = 8) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def usage(p: Plan) -> dict:
    completion = p.completion_tokens + p.reasoning  # OpenAI counts reasoning as completion
    return {
        "prompt_tokens": p.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": p.prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": p.cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": p.reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


class OpenAIWire(Wire):
    kind = "openai"
    base_path = "/v1"
    default_models = ("gpt-4o", "gpt-4o-mini", "text-embedding-3-small")
    request_id_header = "x-request-id"
    embedding_dims = 8

    def routes(self):
        return [
            ("POST", "/v1/chat/completions", self.chat),
            ("POST", "/v1/embeddings", self.embeddings),
            ("GET", "/v1/models", self.models),
        ]

    def authenticate(self, request, api_key):
        auth = request.headers.get("Authorization", "")
        if auth == f"Bearer {api_key}":
            return None
        if not auth:
            return self.error(401, "You didn't provide an API key.", code=None)
        return self.error(401, "Incorrect API key provided.", code="invalid_api_key")

    def error(self, status, message, code: str | None = None, param: str | None = None):
        kind = "server_error" if status >= 500 else "invalid_request_error"
        if status == 429:
            kind, code = "requests", code or "rate_limit_exceeded"
        body = {"error": {"message": message or message_for(status), "type": kind, "param": param, "code": code}}
        return Reply(status, body)

    def stream_error(self):
        # OpenAI reports a mid-stream failure as a data line holding an error object.
        return Event({"error": {"message": "The server had an error while processing your request.",
                                "type": "server_error", "param": None, "code": None}})

    def chat(self, call: Call) -> Reply:
        body = call.body or {}
        messages = body.get("messages")
        if not call.model:
            return self.error(400, "you must provide a model parameter", param="model")
        if not isinstance(messages, list) or not messages:
            return self.error(400, "'messages' must be a non-empty array", param="messages")
        choice = body.get("tool_choice")
        tools = [t["function"]["name"] for t in body.get("tools") or [] if t.get("type") == "function"]
        if isinstance(choice, dict):  # a forced function: call only that one
            tools = [choice["function"]["name"]]
        user_texts = [_text(m.get("content")) for m in messages if m.get("role") == "user"]
        p = plan(
            texts=[_text(m.get("content")) for m in messages],
            last_user=next((t for t in reversed(user_texts) if t.strip()), ""),
            tool_names=tools,
            tools_allowed=choice != "none" and messages[-1].get("role") != "tool",
            max_tokens=body.get("max_completion_tokens", body.get("max_tokens")),
            scenario=call.scenario,
        )
        head = {"id": f"chatcmpl-fake{call.index}", "object": "chat.completion", "created": CREATED, "model": call.model}
        calls = [
            {"id": f"call_fake{call.index}_{i}", "type": "function",
             "function": {"name": c.name, "arguments": c.arguments_json}}
            for i, c in enumerate(p.tool_calls)
        ]
        if body.get("stream"):
            return Reply(events=self._chunks(head, p, calls, bool((body.get("stream_options") or {}).get("include_usage"))))
        message = {"role": "assistant", "content": p.text, "refusal": None, "annotations": []}
        if calls:
            message["tool_calls"] = calls
        return Reply(body={
            **head,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": p.finish}],
            "usage": usage(p), "service_tier": "default", "system_fingerprint": "fp_fake",
        })

    def _chunks(self, head: dict, p: Plan, calls: list[dict], include_usage: bool) -> list[Event]:
        head = {**head, "object": "chat.completion.chunk", "service_tier": "default", "system_fingerprint": "fp_fake"}

        def chunk(delta: dict, finish: str | None = None, content: bool = False) -> Event:
            data = {**head, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
            if include_usage:  # OpenAI then sends "usage": null on every chunk but the last
                data["usage"] = None
            return Event(data, content=content)

        events = [chunk({"role": "assistant", "content": "" if p.text is not None else None, "refusal": None})]
        events += [chunk({"content": piece}, content=True) for piece in p.pieces]
        for i, c in enumerate(calls):
            # The first delta of a call names it; the arguments follow in fragments.
            first = {"index": i, "id": c["id"], "type": "function", "function": {"name": c["function"]["name"],
                                                                              "arguments": ""}}
            events.append(chunk({"tool_calls": [first]}, content=True))
            events += [
                chunk({"tool_calls": [{"index": i, "function": {"arguments": frag}}]})
                for frag in _fragments(c["function"]["arguments"])
            ]
        events.append(chunk({}, p.finish))
        if include_usage:
            events.append(Event({**head, "choices": [], "usage": usage(p)}))
        events.append(Event("[DONE]", terminal=True))
        return events

    def embeddings(self, call: Call) -> Reply:
        body = call.body or {}
        items = body.get("input")
        if isinstance(items, str) or (isinstance(items, list) and items and isinstance(items[0], int)):
            items = [items]  # one string, or one array of token ids
        if not isinstance(items, list) or not items:
            return self.error(400, "'input' must be a string or a non-empty array", param="input")
        dims = body.get("dimensions") or self.embedding_dims
        data, tokens = [], 0
        for i, item in enumerate(items):
            text = item if isinstance(item, str) else " ".join(map(str, item))
            tokens += words(item) if isinstance(item, str) else len(item)  # token arrays: one token per id
            vector = embedding(text, dims)
            if body.get("encoding_format") == "base64":  # little-endian float32, as OpenAI sends
                vector = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
            data.append({"object": "embedding", "index": i, "embedding": vector})
        return Reply(body={"object": "list", "data": data, "model": call.model,
                           "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    def models(self, call: Call) -> Reply:
        return Reply(body={"object": "list", "data": [
            {"id": m, "object": "model", "created": CREATED, "owned_by": "fake"} for m in self.model_ids
        ]})
