"""Response caching for the data plane: an exact cache and a semantic one.

* `settings`: a route's `cache` JSON as typed settings.
* `keys`: the normalised request, the exact key and the semantic scope.
* `capture`: rebuilds the canonical answer from what the call step saw.
* `replay`: answers a hit in the client's wire format, JSON or stream.
* `store`: exact entries in Redis (production) or an in-process LRU (embedded).
* `generations`: per-route generation counters; invalidation bumps them.
* `embedder`, `semantic`, `semantic_db`: the semantic cache.
* `service`: what the cache step calls (lookup and store).
"""
