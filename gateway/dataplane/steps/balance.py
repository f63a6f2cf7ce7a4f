"""Choosing a route's target. Weighted random for now; strategies grow here."""
from __future__ import annotations

import random

from gateway.dataplane.errors import GatewayError

_rng = random.Random()


def choose_target(route):
    targets = [t for t in route.targets if t.weight > 0]
    if not targets:
        raise GatewayError(503, "no_targets", f"Route '{route.name}' has no target to send the request to.")
    if len(targets) == 1:
        return targets[0]
    return _rng.choices(targets, weights=[t.weight for t in targets], k=1)[0]
