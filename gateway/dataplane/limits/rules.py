"""Which limits apply to a request, read from the snapshot (no I/O), and its token estimate."""
from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from gateway.dataplane.tokens import prompt_tokens

# Output tokens reserved for a chat request that names no max_tokens and whose route has no
# cap: about one long answer. Reconciled with the real count after the call either way.
DEFAULT_OUTPUT_TOKENS = 1024
CACHE_HITS = ("hit", "semantic")  # answered by the gateway's cache: no provider tokens spent
METRIC_NAMES = {"requests": "requests per minute", "tokens": "tokens per minute", "parallel": "concurrent requests"}


@dataclass(frozen=True, slots=True)
class Rule:
    """One scope's limits. None: that metric is not limited (0 is a limit: refuse everything)."""

    scope: str  # "key" | "user" | "team" | "tenant" | "route" | "target": the x-switchyard-limit-scope value
    ident: str  # names the shared counters, e.g. "k12"; stable across snapshots and processes
    label: str  # names the scope in messages, e.g. "key 'ci'"
    rpm: int | None
    tpm: int | None
    max_parallel: int | None
    fail_open: bool

    @property
    def settles(self) -> bool:
        """Needs a second call after the request: to reconcile tokens or release a slot."""
        return self.tpm is not None or self.max_parallel is not None

    def message(self, metric: str, need: int = 1) -> str:
        limit = {"requests": self.rpm, "tokens": self.tpm, "parallel": self.max_parallel}[metric]
        if metric == "tokens" and need > (limit or 0):
            return f"request needs about {need} tokens, more than {self.label} tokens per minute limit of {limit}"
        return f"{self.label} {METRIC_NAMES[metric]} limit of {limit} reached"


def make_rule(scope: str, ident: str, label: str, limits) -> Rule | None:
    if not limits:
        return None
    rpm, tpm, parallel = limits.get("rpm"), limits.get("tpm"), limits.get("max_parallel")
    if rpm is None and tpm is None and parallel is None:
        return None  # e.g. only {"fail_open": true}
    return Rule(scope, ident, label, rpm, tpm, parallel, bool(limits.get("fail_open")))


# Rules depend only on the snapshot, the key and the route: built once per pair and snapshot.
_memo: tuple = (None, {})  # (snapshot, {(key id, route id): (key, route, rules)})
MEMO_MAX = 50_000  # pairs remembered per snapshot before starting afresh


def rules_for(ctx) -> tuple[Rule, ...]:
    """The key's, its user's, team's and tenant's, and the route's limits; () when none are set."""
    global _memo
    if _memo[0] is not ctx.snapshot:
        _memo = (ctx.snapshot, {})
    memo = _memo[1]
    found = memo.get((ctx.key.id, ctx.route.id))
    if found is not None and found[0] is ctx.key and found[1] is ctx.route:
        return found[2]
    if len(memo) >= MEMO_MAX:
        memo.clear()
    rules = _rules(ctx)
    memo[ctx.key.id, ctx.route.id] = (ctx.key, ctx.route, rules)
    return rules


def _rules(ctx) -> tuple[Rule, ...]:
    key, snapshot, route = ctx.key, ctx.snapshot, ctx.route
    member = snapshot.member_limits.get((key.tenant_id, key.user_id)) if key.user_id is not None else None
    team_id = key.team_id if key.team_id is not None else (member.team_id if member else None)
    team = snapshot.team_limits.get(team_id) if team_id is not None else None
    tenant = snapshot.tenant_limits.get(key.tenant_id)
    candidates = (
        make_rule("key", f"k{key.id}", f"key '{key.name}'", key.limits),
        member and make_rule("user", f"u{key.tenant_id}.{key.user_id}", f"user '{member.label}'", member.limits),
        team and make_rule("team", f"g{team_id}", f"team '{team.label}'", team.limits),
        tenant and make_rule("tenant", f"t{key.tenant_id}", f"tenant '{tenant.label}'", tenant.limits),
        make_rule("route", f"r{route.id}", f"route '{route.name}'", route.limits),
    )
    return tuple(rule for rule in candidates if rule)


def target_rule(route, target) -> Rule | None:
    """A provider deployment's own quota, counted per route target (provider and model)."""
    name = f"{target.provider.name}/{target.model}"
    return make_rule("target", f"x{route.id}.{target.provider.id}.{target.model}", f"target '{name}'", target.limits)


def estimate_tokens(ctx) -> int:
    """Input tokens counted now plus the output the request may produce (reconciled afterwards)."""
    canonical = ctx.canonical or {}
    if ctx.endpoint == "embeddings":
        return prompt_tokens(ctx)
    output = canonical.get("max_completion_tokens") or canonical.get("max_tokens")
    if not isinstance(output, int) or output < 0:
        output = getattr(settings, "RATELIMIT_DEFAULT_OUTPUT_TOKENS", DEFAULT_OUTPUT_TOKENS)
    return prompt_tokens(ctx) + output


def used_tokens(ctx) -> int:
    """What the call really cost upstream: nothing when it failed first or the cache answered."""
    usage = ctx.usage
    if usage is None or ctx.cache_status in CACHE_HITS:
        return 0
    return usage.input_tokens + usage.output_tokens
