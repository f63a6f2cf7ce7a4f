"""The state of one data-plane request as it passes the pipeline's steps."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.dataplane.canonical import Usage
from gateway.dataplane.snapshot import KeyInfo, RouteInfo, Snapshot, TargetInfo


@dataclass(slots=True)
class RequestContext:
    scope: dict
    send: Any
    request_id: str
    ingress: str  # "openai" | "anthropic": the wire format of errors and answers
    endpoint: str  # "chat" | "embeddings" | "models" | "model"
    method: str
    headers: dict[str, str]
    raw_body: bytes
    snapshot: Snapshot
    started_wall: float  # epoch seconds, for the ledger
    started: float  # perf_counter, for latencies
    body: dict | None = None  # the client's JSON as sent (Anthropic ingress keeps it for pass-through)
    canonical: dict | None = None  # the request in the canonical (OpenAI) form
    body_modified: bool = False  # a step changed the body: pass-through must re-encode it
    key: KeyInfo | None = None
    route: RouteInfo | None = None
    target: TargetInfo | None = None
    stream: bool = False
    usage: Usage | None = None
    status: int = 200
    error_code: str = ""
    ttfb: float | None = None
    response_started: bool = False
    response_complete: bool = False  # the last byte was handed to the server
    cancelled: bool = False
    attempts: int = 0
    path_param: str = ""
    relay: Any = None  # the stream relay, which knows what reached the client
    before_end: list | None = None  # respond.at_end hooks: writes a repeat must already see
    response_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    cache_status: str = ""  # "hit" | "miss" | "bypass" | "semantic" when a cache step ran
    state: dict = field(default_factory=dict)  # step-private data, keyed by the step's name
