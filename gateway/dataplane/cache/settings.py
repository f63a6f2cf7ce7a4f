"""A route's `cache` JSON as typed settings (validated by config_schema.Cache on write)."""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

DEFAULT_TTL_S = 300  # five minutes: long enough to absorb retries and repeats, short enough to stay fresh
DEFAULT_THRESHOLD = 0.95  # cosine similarity; MiniLM paraphrases of one question score ~0.93-0.98
DEFAULT_MAX_TEMPERATURE = 0.7  # hotter requests ask for variety, which a semantic hit would defeat


@dataclass(frozen=True, slots=True)
class SemanticSettings:
    threshold: float
    shadow: bool
    embedding_route: str | None
    max_temperature: float
    ttl: int


@dataclass(frozen=True, slots=True)
class CacheSettings:
    exact: bool  # the exact layer runs
    ttl: int
    semantic: SemanticSettings | None  # None: no semantic layer


# A snapshot's route carries its cache JSON as a read-only mapping that lives as long as the
# snapshot: parsed once per mapping rather than once per request (1 us a request otherwise).
_parsed: dict[int, tuple] = {}  # id(mapping) -> (mapping, its settings); holding it keeps the id unique
PARSED_MAX = 10_000


def cache_settings(route) -> CacheSettings | None:
    """None when the route caches nothing (then no header is sent either)."""
    raw = route.cache if route is not None else None
    if not raw:
        return None
    if type(raw) is not MappingProxyType:  # a plain dict may change under us: read it afresh
        return _settings(raw)
    found = _parsed.get(id(raw))
    if found is not None and found[0] is raw:
        return found[1]
    if len(_parsed) >= PARSED_MAX:
        _parsed.clear()
    settings = _settings(raw)
    _parsed[id(raw)] = (raw, settings)
    return settings


def _settings(raw) -> CacheSettings | None:
    ttl = int(raw.get("ttl") or DEFAULT_TTL_S)
    semantic = _semantic(raw.get("semantic"), ttl)
    exact = bool(raw.get("enabled"))
    if not exact and semantic is None:
        return None
    return CacheSettings(exact=exact, ttl=ttl, semantic=semantic)


def _semantic(raw, ttl: int) -> SemanticSettings | None:
    if not isinstance(raw, dict) or not raw.get("enabled"):
        return None
    max_temperature = raw.get("max_temperature")
    return SemanticSettings(
        threshold=float(raw.get("threshold") or DEFAULT_THRESHOLD),
        shadow=bool(raw.get("shadow")),
        embedding_route=raw.get("embedding_route") or None,
        max_temperature=float(DEFAULT_MAX_TEMPERATURE if max_temperature is None else max_temperature),
        ttl=int(raw.get("ttl") or ttl),
    )
