"""Gemini's wire format: /v1beta/models/{model}:generateContent and friends."""
from __future__ import annotations

from tests.fakes.base import Call, Event, Reply, Wire, message_for
from tests.fakes.content import Plan, embedding, plan, words

FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP"}  # Gemini ends calls with STOP
STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def _parts_text(content) -> str:
    parts = content.get("parts", []) if isinstance(content, dict) else []
    return " ".join(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))


def usage(p: Plan, candidates: int) -> dict:
    # promptTokenCount includes cached tokens; the optional counts appear only when non-zero.
    out = {
        "promptTokenCount": p.prompt_tokens,
        "candidatesTokenCount": candidates,
        "totalTokenCount": p.prompt_tokens + candidates + p.reasoning,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": p.prompt_tokens}],
    }
    if p.cached:
        out["cachedContentTokenCount"] = p.cached
    if p.reasoning:
        out["thoughtsTokenCount"] = p.reasoning
    return out


class GeminiWire(Wire):
    kind = "gemini"
    base_path = "/v1beta"
    crlf = True  # Google's SSE separates events with "\r\n\r\n"
    default_models = ("gemini-2.5-flash", "gemini-2.5-pro", "text-embedding-004")

    def routes(self):
        # One route: the action follows the model after the last ':' ("gemini-2.5-flash:generateContent").
        return [("POST", "/v1beta/models/{target}", self.dispatch), ("GET", "/v1beta/models", self.models)]

    def model_of(self, request, body):
        return request.match_info.get("target", "").rpartition(":")[0] or None

    def authenticate(self, request, api_key):
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        if key == api_key:
            return None
        if not key:
            return self.error(403, "Method doesn't allow unregistered callers (callers without established "
                                   "identity). Please use API Key or other form of API consumer identity to call "
                                   "this API.")
        reply = self.error(400, "API key not valid. Please pass a valid API key.")
        reply.body["error"]["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                           "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]
        return reply

    def error(self, status, message):
        status_name = STATUSES.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
        return Reply(status, {"error": {"code": status, "message": message or message_for(status),
                                        "status": status_name}})

    def stream_error(self):
        return Event({"error": {"code": 500, "message": "An internal error has occurred.", "status": "INTERNAL"}})

    def dispatch(self, call: Call) -> Reply:
        action = call.request.match_info["target"].rpartition(":")[2]
        handler = {
            "generateContent": self.generate,
            "streamGenerateContent": self.generate,
            "embedContent": self.embed,
            "batchEmbedContents": self.batch_embed,
        }.get(action)
        if handler is None or not call.model:
            return self.error(404, f"Method not found: {action}")
        return handler(call, action)

    def models(self, call: Call) -> Reply:
        methods = ["generateContent", "streamGenerateContent", "embedContent", "batchEmbedContents"]
        return Reply(body={"models": [{"name": f"models/{m}", "displayName": m, "supportedGenerationMethods": methods}
                                      for m in self.model_ids]})

    def generate(self, call: Call, action: str) -> Reply:
        body = call.body or {}
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            return self.error(400, "* GenerateContentRequest.contents: contents is not specified")
        fc = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
        tools = [d["name"] for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
        if fc.get("allowedFunctionNames"):
            tools = list(fc["allowedFunctionNames"])
        after_result = any("functionResponse" in part for part in contents[-1].get("parts", []))
        user_texts = [_parts_text(c) for c in contents if c.get("role", "user") == "user"]
        p = plan(
            texts=[_parts_text(body.get("systemInstruction"))] + [_parts_text(c) for c in contents],
            last_user=next((t for t in reversed(user_texts) if t.strip()), ""),
            tool_names=tools,
            tools_allowed=fc.get("mode") != "NONE" and not after_result,
            max_tokens=(body.get("generationConfig") or {}).get("maxOutputTokens"),
            scenario=call.scenario,
        )
        head = {"modelVersion": call.model, "responseId": f"fake-{call.index}"}
        if action == "generateContent":
            parts = [{"text": p.text}] if p.text is not None else [
                {"functionCall": {"name": c.name, "args": c.arguments}} for c in p.tool_calls
            ]
            return Reply(body=self._response(parts, p, p.completion_tokens, head, final=True))
        chunks = self._chunks(p, head)
        if call.request.query.get("alt") != "sse":  # without alt=sse Google answers one JSON array
            return Reply(body=[e.data for e in chunks])
        return Reply(events=chunks)

    def _response(self, parts: list[dict], p: Plan, candidates: int, head: dict, final: bool) -> dict:
        candidate = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if final:
            candidate["finishReason"] = FINISH[p.finish]
        return {"candidates": [candidate], "usageMetadata": usage(p, candidates), **head}

    def _chunks(self, p: Plan, head: dict) -> list[Event]:
        """One response per piece; usageMetadata on each is cumulative, the last one is the total.

        Gemini has no end marker: the last chunk (with finishReason) is marked terminal,
        so `no_done` drops it.
        """
        if p.text is None:  # function calls arrive whole, in one chunk
            parts = [{"functionCall": {"name": c.name, "args": c.arguments}} for c in p.tool_calls]
            return [Event(self._response(parts, p, p.completion_tokens, head, True), terminal=True, content=True)]
        pieces = p.pieces or [""]
        events, sent = [], ""
        for i, piece in enumerate(pieces):
            sent += piece
            final = i == len(pieces) - 1
            data = self._response([{"text": piece}], p, words(sent), head, final)
            events.append(Event(data, terminal=final, content=True))
        return events

    def embed(self, call: Call, action: str) -> Reply:
        body = call.body or {}
        return Reply(body={"embedding": {"values": self._vector(body)}})

    def batch_embed(self, call: Call, action: str) -> Reply:
        requests = (call.body or {}).get("requests")
        if not isinstance(requests, list) or not requests:
            return self.error(400, "* BatchEmbedContentsRequest.requests: requests is not specified")
        return Reply(body={"embeddings": [{"values": self._vector(r)} for r in requests]})

    def _vector(self, request: dict) -> list[float]:
        return embedding(_parts_text(request.get("content")), request.get("outputDimensionality") or 8)
