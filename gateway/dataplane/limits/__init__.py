"""Rate limits: requests per minute, tokens per minute and concurrent requests (issue 4).

Scopes: the key, its user (membership), its team, its tenant, the route, and each
provider target (RouteTarget.limits, checked per attempt by `acquire_target`).

Algorithm: a sliding-window log over the trailing 60 s, per scope and metric.
Requests are a sorted set of request times; tokens a sorted set of (time, tokens)
entries with a running total; concurrency a sorted set of leases. Why a log:

* it is exact: at most L requests (or tokens) in any 60 s, whatever the arrival
  pattern, including bursts straddling a window boundary (fixed windows admit 2L
  there) and after idle periods (GCRA / token buckets admit a burst of L plus the
  refill, up to ~2L in 60 s). RELIABILITY.md B4 asks for 0.99 L to L admitted;
* the two-bucket weighted window is an estimate that assumes uniform traffic in the
  previous window, so it over- or under-admits when traffic is bursty (LiteLLM
  enforced TPM at 60-70 % of the limit, #24677);
* a refusal knows when capacity returns: the oldest entries' expiry is Retry-After,
  to the millisecond;
* memory is one entry per admitted request in the last minute (tokens included: one
  entry per request, not per token), trimmed on every check and expiring with it.

One Lua script per request checks every applicable limit and only then consumes from
all of them, atomically, so a request refused by one limit costs nothing in the
others (LiteLLM #39309). Tokens are held at an estimate (prompt counted with
tiktoken + max_tokens, or RATELIMIT_DEFAULT_OUTPUT_TOKENS) and reconciled with the
real usage after the call by a second script, which also frees concurrency slots;
it runs only when tpm or max_parallel apply. Concurrency slots are leases renewed by
their process, so a crashed process cannot hold slots for more than a minute.

Embedded mode (no Redis) keeps the same logs in process memory, exact as well.
When Redis cannot be reached the request gets 503 `rate_limit_unavailable`, unless
every limit that applies to it says `fail_open: true`; the outage is logged once.
"""
from gateway.dataplane.limits.process import get_limiter
from gateway.dataplane.limits.rules import Rule, rules_for, target_rule
from gateway.dataplane.limits.targets import acquire_target
from gateway.dataplane.limits.verdict import TargetRateLimited, format_reset

__all__ = ["Rule", "TargetRateLimited", "acquire_target", "format_reset", "get_limiter", "rules_for", "target_rule"]
