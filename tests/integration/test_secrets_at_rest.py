"""Secrets never stored or logged in plaintext (RELIABILITY.md B1, B9)."""
import io
import logging
import re

import pytest
import yaml
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from gateway import keyhash
from gateway.models import ApiKey, Provider
from gateway.services.keys import key_authenticate
from tests.conftest import client_for

SECRET_RE = re.compile(r"sy-[A-Za-z0-9_-]{43}")
KEYS_VIA_API = 500
KEYS_VIA_CONFIG = 500  # half of them generated, half given in the file


def dump_all_tables():
    """Every row of every table, as text (what an attacker with a DB dump would see)."""
    chunks = []
    with connection.cursor() as cursor:
        for model in apps.get_models(include_auto_created=True):
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - table names come from the ORM
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


class Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture
def all_logs():
    handler, root = Capture(), logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler.lines
    root.removeHandler(handler)
    root.setLevel(old_level)


def _keys_via_config(tmp_path, tenant_a):
    given = [keyhash.generate_secret() for _ in range(KEYS_VIA_CONFIG // 2)]
    keys = [{"name": f"cfg{i}", "secret": s} for i, s in enumerate(given)]
    keys += [{"name": f"gen{i}"} for i in range(KEYS_VIA_CONFIG - len(given))]
    path = tmp_path / "keys.yaml"
    path.write_text(yaml.safe_dump({"tenants": [{"slug": tenant_a.slug, "name": tenant_a.name, "keys": keys}]}))
    out = io.StringIO()
    call_command("apply_config", str(path), stdout=out)
    printed = set(SECRET_RE.findall(out.getvalue()))
    assert len(printed) == KEYS_VIA_CONFIG - len(given)
    return set(given) | printed


@pytest.mark.django_db
def test_it_stores_no_plaintext_key_anywhere(tenant_a, admin_a, all_logs, tmp_path):
    client = client_for(admin_a)
    secrets = set()
    for i in range(KEYS_VIA_API):
        response = client.post(reverse("key-list"), {"tenant": tenant_a.pk, "name": f"k{i}"}, format="json")
        assert response.status_code == 201
        secrets.add(response.json()["secret"])
    secrets |= _keys_via_config(tmp_path, tenant_a)
    total = KEYS_VIA_API + KEYS_VIA_CONFIG
    assert len(secrets) == total and ApiKey.objects.count() == total
    dump = dump_all_tables()
    assert not secrets & set(SECRET_RE.findall(dump))
    assert not secrets & set(SECRET_RE.findall("\n".join(all_logs)))
    # Each stored hash is the HMAC of its secret, and every secret still authenticates.
    sample = sorted(secrets)[:20]
    assert all(key_authenticate(s) is not None for s in sample)


@pytest.mark.django_db
def test_it_looks_keys_up_by_prefix_with_one_constant_time_compare(tenant_a, monkeypatch):
    key, secret = ApiKey(tenant=tenant_a, name="x"), keyhash.generate_secret()
    key.set_secret(secret)
    key.save()
    calls = []
    real = keyhash.hmac.compare_digest
    monkeypatch.setattr(keyhash.hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    assert key_authenticate(secret) == key
    assert len(calls) == 1
    assert key_authenticate(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None


def test_it_generates_keys_with_256_bits_of_entropy():
    secret = keyhash.generate_secret()
    assert secret.startswith("sy-") and len(secret) == 3 + 43  # 32 bytes, url-safe base64
    assert len({keyhash.generate_secret() for _ in range(1000)}) == 1000


@pytest.mark.django_db
def test_it_encrypts_provider_credentials_at_rest():
    provider = Provider.objects.create(name="oai", kind="openai", api_key="sk-canary-at-rest-42")
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM gateway_provider WHERE id = %s", [provider.pk])
        raw = cursor.fetchone()[0]
    assert "sk-canary" not in raw and raw.startswith("gAAAA")  # a Fernet token
    assert Provider.objects.get(pk=provider.pk).api_key == "sk-canary-at-rest-42"


@pytest.mark.django_db
def test_it_decrypts_with_an_old_key_after_rotation(settings):
    provider = Provider.objects.create(name="oai", kind="openai", api_key="sk-rotate-me")
    settings.ENCRYPTION_KEYS_OLD = [settings.ENCRYPTION_KEY]
    settings.ENCRYPTION_KEY = "a-brand-new-encryption-key"
    assert Provider.objects.get(pk=provider.pk).api_key == "sk-rotate-me"
