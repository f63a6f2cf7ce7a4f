"""The configuration version the data plane watches to rebuild its snapshot.

Production: an INCR on a Redis key, seen by every replica. Embedded mode: a
counter file under var/ (one machine, several processes), whose change the
data plane notices with a cheap stat. Bumped after the transaction commits, so
a snapshot is never rebuilt from uncommitted rows.
"""
import logging
import os
from functools import lru_cache

from django.conf import settings
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

log = logging.getLogger(__name__)
REDIS_KEY = "sy:config:version"
WATCHED = (
    "gateway.Tenant",
    "gateway.Team",
    "gateway.Membership",
    "gateway.ApiKey",
    "gateway.Provider",
    "gateway.Route",
    "gateway.RouteTarget",
    "gateway.RouteFallback",
    "billing.Budget",
    "billing.PriceOverride",  # snapshots load the overrides in force
)


@lru_cache(maxsize=1)
def _redis():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)


def _version_file():
    return settings.VAR_DIR / "config_version"


def current():
    if settings.REDIS_URL:
        return int(_redis().get(REDIS_KEY) or 0)
    try:
        return int(_version_file().read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def bump():
    if settings.REDIS_URL:
        try:
            return _redis().incr(REDIS_KEY)
        except Exception:  # the snapshot TTL still picks the change up
            log.error("config version bump failed: Redis unreachable; replicas refresh on their TTL")
            return None
    path = _version_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = current() + 1
    tmp = path.with_suffix(f".{os.getpid()}")
    tmp.write_text(str(value))
    os.replace(tmp, path)  # atomic: readers see the old or the new number
    return value


def _schedule_bump(**kwargs):
    if kwargs.get("raw"):
        return
    transaction.on_commit(bump)


def connect():
    from django.apps import apps

    for label in WATCHED:
        model = apps.get_model(label)
        uid = f"config-version-{label}"
        post_save.connect(_schedule_bump, sender=model, dispatch_uid=uid)
        post_delete.connect(_schedule_bump, sender=model, dispatch_uid=uid + "-del")
        for field in model._meta.many_to_many:
            m2m_changed.connect(_schedule_bump, sender=field.remote_field.through, dispatch_uid=uid + field.name)
