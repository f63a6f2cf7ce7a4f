"""Shared helpers of the data-plane unit tests (recorded streams, chunk accumulation)."""
from __future__ import annotations

from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2] / "fuzz" / "corpus"


def corpus(provider: str, name: str) -> bytes:
    return (CORPUS / provider / name).read_bytes()


def corpus_files(provider: str) -> list[Path]:
    return sorted((CORPUS / provider).glob("*.sse"))


def feed_all(parser, data: bytes, step: int | None = None) -> list[dict]:
    """Feed `data` in pieces of `step` bytes (all at once if None), then close."""
    out: list[dict] = []
    step = step or len(data) or 1
    for i in range(0, len(data), step):
        out.extend(parser.feed(data[i:i + step]))
    out.extend(parser.close())
    return out


def text_of_chunks(chunks: list[dict]) -> str:
    return "".join((c["choices"][0]["delta"].get("content") or "") for c in chunks if c.get("choices"))


def tool_calls_of_chunks(chunks: list[dict]) -> dict[int, dict]:
    """Accumulate tool-call deltas the way OpenAI clients do."""
    calls: dict[int, dict] = {}
    for c in chunks:
        for choice in c.get("choices") or ():
            for d in choice["delta"].get("tool_calls") or ():
                call = calls.setdefault(d["index"], {"id": None, "name": "", "arguments": ""})
                call["id"] = d.get("id") or call["id"]
                call["name"] += (d.get("function") or {}).get("name") or ""
                call["arguments"] += (d.get("function") or {}).get("arguments") or ""
    return calls


def finish_reasons(chunks: list[dict]) -> list[str]:
    return [ch["finish_reason"] for c in chunks for ch in c.get("choices") or () if ch.get("finish_reason")]
