"""The semantic cache's rows: answers with the embedding of the prompt that produced them.

Written and read by the data plane off the event loop (a worker thread), never
per request on the loop. An entry belongs to one tenant and route and is only
compared with prompts of the same scope: same model, sampling parameters,
earlier turns and embedding model (`scope`, a hash) and same route cache
generation (`generation`, bumped by invalidation).
"""
from django.db import models

from gateway.models.routes import Route
from gateway.models.tenants import Tenant


class SemanticCacheEntry(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="+")
    model = models.CharField(max_length=200)  # the public model name the client asked for
    scope = models.CharField(max_length=64)  # sha256 of everything but the last user message
    embedder = models.CharField(max_length=200)  # vectors of different models are never compared
    generation = models.PositiveIntegerField(default=0)
    dims = models.PositiveSmallIntegerField()
    vector = models.BinaryField()  # little-endian float32, L2-normalised
    answer = models.JSONField()  # the canonical (OpenAI) answer, usage included
    cost_usd = models.DecimalField(max_digits=20, decimal_places=12, default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["route", "scope", "generation", "id"], name="semcache_scope_idx")]

    def __str__(self):
        return f"semantic cache entry {self.pk} of route {self.route_id}"


class SemanticShadowHit(models.Model):
    """Shadow mode: a hit the semantic cache would have served, and how similar it was."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="+")
    request_id = models.CharField(max_length=100, db_index=True)
    entry = models.ForeignKey(SemanticCacheEntry, null=True, on_delete=models.SET_NULL, related_name="+")
    similarity = models.FloatField()
    threshold = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self):
        return f"shadow hit {self.similarity:.3f} on route {self.route_id}"
