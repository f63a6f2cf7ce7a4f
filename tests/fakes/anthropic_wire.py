"""Anthropic's wire format: /v1/messages (JSON and named SSE events)."""
from __future__ import annotations

from tests.fakes.base import Call, Event, Reply, Wire, message_for
from tests.fakes.content import Plan, plan

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def _blocks_text(content, kinds=("text",)) -> str:
    """Text of a string or of content blocks; tool_result blocks nest their own content."""
    if isinstance(content, str):
        return content
    out = []
    for block in content if isinstance(content, list) else []:
        if isinstance(block, dict) and block.get("type") in kinds:
            out.append(block["text"] if block["type"] == "text" else _blocks_text(block.get("content")))
    return " ".join(out)


def usage(p: Plan) -> dict:
    # input_tokens excludes cache reads and writes: their sum is the whole prompt.
    return {
        "input_tokens": p.prompt_tokens - p.cached - p.cache_write,
        "cache_creation_input_tokens": p.cache_write,
        "cache_read_input_tokens": p.cached,
        "cache_creation": {"ephemeral_5m_input_tokens": p.cache_write, "ephemeral_1h_input_tokens": 0},
        "output_tokens": p.completion_tokens + p.reasoning,  # thinking is billed as output
        "service_tier": "standard",
    }


class AnthropicWire(Wire):
    kind = "anthropic"
    base_path = ""
    default_models = ("claude-sonnet-5", "claude-opus-5")
    request_id_header = "request-id"

    def routes(self):
        return [("POST", "/v1/messages", self.messages), ("GET", "/v1/models", self.models)]

    def authenticate(self, request, api_key):
        # Anthropic takes the key as x-api-key, or as a bearer token (what anthropic>=2 sends).
        if api_key not in (request.headers.get("x-api-key"), request.headers.get("Authorization", "").removeprefix("Bearer ")):
            return self.error(401, "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return self.error(400, "anthropic-version: header is required")
        return None

    def error(self, status, message):
        kind = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return Reply(status, {"type": "error", "error": {"type": kind, "message": message or message_for(status)}})

    def stream_error(self):
        return Event({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "error")

    def messages(self, call: Call) -> Reply:
        body = call.body or {}
        messages = body.get("messages")
        if not call.model:
            return self.error(400, "model: Field required")
        if not isinstance(body.get("max_tokens"), int):
            return self.error(400, "max_tokens: Field required")
        if not isinstance(messages, list) or not messages:
            return self.error(400, "messages: at least one message is required")
        choice = body.get("tool_choice") or {}
        tools = [t["name"] for t in body.get("tools") or [] if "name" in t]
        if choice.get("type") == "tool":
            tools = [choice["name"]]
        last = messages[-1].get("content")
        after_tool_result = isinstance(last, list) and any(b.get("type") == "tool_result" for b in last)
        user_texts = [_blocks_text(m.get("content")) for m in messages if m.get("role") == "user"]
        p = plan(
            texts=[_blocks_text(body.get("system") or "")]
            + [_blocks_text(m.get("content"), ("text", "tool_result")) for m in messages],
            last_user=next((t for t in reversed(user_texts) if t.strip()), ""),
            tool_names=tools,
            tools_allowed=choice.get("type") != "none" and not after_tool_result,
            max_tokens=body["max_tokens"],
            scenario=call.scenario,
        )
        blocks = [{"type": "text", "text": p.text}] if p.text is not None else [
            {"type": "tool_use", "id": f"toolu_fake{call.index}_{i}", "name": c.name, "input": c.arguments}
            for i, c in enumerate(p.tool_calls)
        ]
        message = {
            "id": f"msg_fake{call.index}", "type": "message", "role": "assistant", "model": call.model,
            "content": blocks, "stop_reason": STOP_REASONS[p.finish], "stop_sequence": None, "usage": usage(p),
        }
        return Reply(events=self._events(message, p)) if body.get("stream") else Reply(body=message)

    def models(self, call: Call) -> Reply:
        data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
                for m in self.model_ids]
        return Reply(body={"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]})

    def _events(self, message: dict, p: Plan) -> list[Event]:
        def ev(data: dict, content: bool = False, terminal: bool = False) -> Event:
            return Event(data, data["type"], terminal=terminal, content=content)

        # message_start carries the input side; output_tokens is 1 there, as Anthropic sends it.
        start = {**message, "content": [], "stop_reason": None, "usage": {**usage(p), "output_tokens": 1}}
        events = [ev({"type": "message_start", "message": start})]
        for index, block in enumerate(message["content"]):
            if block["type"] == "text":
                opening = {**block, "text": ""}
                deltas = [{"type": "text_delta", "text": piece} for piece in p.pieces]
            else:
                opening = {**block, "input": {}}
                args = p.tool_calls[index].arguments_json
                deltas = [{"type": "input_json_delta", "partial_json": args[i : i + 8]} for i in range(0, len(args), 8)]
            events.append(ev({"type": "content_block_start", "index": index, "content_block": opening}))
            if index == 0:
                events.append(ev({"type": "ping"}))
            events += [ev({"type": "content_block_delta", "index": index, "delta": d}, content=True) for d in deltas]
            events.append(ev({"type": "content_block_stop", "index": index}))
        delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
        events.append(ev({"type": "message_delta", "delta": delta, "usage": {"output_tokens": usage(p)["output_tokens"]}}))
        events.append(ev({"type": "message_stop"}, terminal=True))
        return events
