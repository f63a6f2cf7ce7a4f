"""Control-plane side of the response cache: status and invalidation of a route's cache.

The data plane's entries live in Redis (or in each embedded server process),
out of reach of the ORM, so invalidation starts a new per-route generation
(gateway/dataplane/cache/generations.py): every older entry becomes a miss at
once. The semantic cache's rows are deleted as well, since they take space
in PostgreSQL until they expire.
"""
from django.db import transaction

from gateway.dataplane.cache import generations
from gateway.models import AuditEvent, SemanticCacheEntry
from gateway.services.audit import audit_record


def route_cache_status(route) -> dict:
    return {
        "generation": generations.current(route.pk),
        "semantic_entries": SemanticCacheEntry.objects.filter(route=route).count(),
    }


def route_cache_invalidate(route) -> dict:
    """New generation first: from then on no lookup can return an old answer."""
    generation = generations.bump(route.pk)
    with transaction.atomic():
        deleted, _ = SemanticCacheEntry.objects.filter(route=route).delete()
        audit_record(route, AuditEvent.Action.UPDATE, None, {"cache_invalidated": generation})
    return {"generation": generation, "semantic_entries_deleted": deleted}
