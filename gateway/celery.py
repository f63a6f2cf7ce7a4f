"""Celery wiring: Redis broker in production, a filesystem transport embedded (gateway/celery_transport.py)."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")

app = Celery("switchyard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def ensure_filesystem_queue():
    """The filesystem transport needs its folders (queue, staging, claims, control) before a worker or producer starts.

    A no-op with the Redis broker, whose options name no folder.
    """
    from django.conf import settings

    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    for key in ("data_folder_in", "data_folder_out", "staging_folder", "processed_folder", "control_folder"):
        if key in options:
            os.makedirs(options[key], exist_ok=True)
