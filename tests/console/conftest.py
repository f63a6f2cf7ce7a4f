"""Console test helpers: a signed-in browser-like client and row counts for "nothing changed" checks."""
import pytest
from django.apps import apps
from django.test import Client

# Sessions change on sign-in and the audit log is checked by its own tests.
UNCOUNTED = {"sessions.Session"}


def row_counts():
    return {m._meta.label: m._default_manager.count() for m in apps.get_models() if m._meta.label not in UNCOUNTED}


def signed_in(user, **kwargs):
    client = Client(**kwargs)
    client.force_login(user)
    return client


@pytest.fixture
def admin_client(admin_a):
    return signed_in(admin_a)
