"""The demo installation seeded on a fresh `make run`: a tenant, its admin, a mock route and a key.

demo_seed() converges to that state and is safe to call any number of times.
Secrets are returned only when they were created by this call, so the caller
can show them once; they are stored hashed. Besides the terminal, the banner that
shows them goes to var/first-run.txt (owner-only), because a terminal scrolls them away.
"""
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from gateway.audit_context import acting_as
from gateway.models import ApiKey, Membership, Provider, ProviderKind, Role, Route, Tenant
from gateway.services.keys import key_create
from gateway.services.members import membership_upsert
from gateway.services.routes import route_save

DEMO_TENANT_SLUG = "demo"
DEMO_ADMIN_EMAIL = "admin@demo.local"
DEMO_PROVIDER_NAME = "mock"
DEMO_ROUTE_NAME = "demo"
DEMO_MODEL = "mock-1"
DEMO_KEY_NAME = "demo"
# 12 random bytes = 16 url-safe characters: well past the minimum-length validator.
PASSWORD_BYTES = 12
FIRST_RUN_FILE = "first-run.txt"
FIRST_RUN_MODE = 0o600  # it holds a superuser's password: readable by the owner only


@dataclass
class DemoSeed:
    tenant: Tenant
    admin_email: str
    password: str | None  # set only when this call created the admin
    key_secret: str | None  # set only when this call created the key

    @property
    def created_secrets(self):
        return self.password is not None or self.key_secret is not None


def demo_seed():
    """Create whatever part of the demo installation is missing."""
    with acting_as(label="seed_demo"), transaction.atomic():
        tenant, _ = Tenant.objects.get_or_create(slug=DEMO_TENANT_SLUG, defaults={"name": "Demo"})
        provider = _mock_provider()
        _demo_route(provider)
        admin, password = _demo_admin(tenant)
        secret = _demo_key(tenant, admin)
    return DemoSeed(tenant=tenant, admin_email=admin.email, password=password, key_secret=secret)


def _mock_provider():
    provider, _ = Provider.objects.get_or_create(
        tenant=None, name=DEMO_PROVIDER_NAME, defaults={"kind": ProviderKind.MOCK}
    )
    return provider


def _demo_route(provider):
    route = Route.objects.filter(tenant__isnull=True, name=DEMO_ROUTE_NAME).first()
    if route is not None:
        return route  # an admin may have changed it since; seeding does not undo that
    route = Route(name=DEMO_ROUTE_NAME, description="Demo route answered by the built-in mock provider")
    return route_save(route, targets=[(provider, DEMO_MODEL, 1)])


def _demo_admin(tenant):
    """(user, password or None). The demo admin also administers shared providers and routes."""
    user = get_user_model().objects.filter(email=DEMO_ADMIN_EMAIL).first()
    if user is not None:
        # Re-add a removed membership, but keep whatever role an admin has given it since.
        Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": Role.OWNER})
        return user, None
    password = secrets.token_urlsafe(PASSWORD_BYTES)
    user = membership_upsert(tenant=tenant, email=DEMO_ADMIN_EMAIL, role=Role.OWNER, password=password).user
    user.is_staff = user.is_superuser = True
    user.save(update_fields=["is_staff", "is_superuser"])
    return user, password


def _demo_key(tenant, owner):
    if ApiKey.objects.usable().filter(tenant=tenant, name=DEMO_KEY_NAME).exists():
        return None
    _, secret = key_create(tenant=tenant, name=DEMO_KEY_NAME, owner=owner)
    return secret


def demo_urls(base_url):
    base = base_url.rstrip("/")
    return {
        "console": f"{base}/console/login/",
        "api_docs": f"{base}/api/docs/",
        "openai_base": f"{base}/v1",
    }


def first_run_path():
    return Path(settings.VAR_DIR) / FIRST_RUN_FILE


def first_run_file_write(text, path=None):
    """Write the first-run banner to `path` (var/first-run.txt), mode 0600 from its first byte.

    Written under a temporary name with that mode and renamed over the old file, so the
    secrets are never readable by others, not even briefly or through an older file's mode.
    """
    path = Path(path or first_run_path())
    fd, staged = tempfile.mkstemp(dir=path.parent, prefix=".first-run-")  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(staged, FIRST_RUN_MODE)
        os.replace(staged, path)
    except BaseException:
        os.unlink(staged)
        raise
    return path


def demo_banner(base_url, seed=None, first_run_file=None):
    """The text shown at start-up; includes secrets only when `seed` just created them.

    `first_run_file`: where the secrets were also written (named in the banner); without
    new secrets, an existing first-run file is pointed at instead.
    """
    urls = demo_urls(base_url)
    lines = [
        f"Switchyard on {base_url.rstrip('/')}",
        f"  Console sign-in      {urls['console']}",
        f"  API docs             {urls['api_docs']}",
        f"  OpenAI-compatible    {urls['openai_base']}",
    ]
    if seed is not None and seed.created_secrets:
        lines += _secret_lines(seed, urls["openai_base"], first_run_file)
    elif first_run_path().exists():
        lines.append(f"  First-run secrets    {first_run_path()} (delete it once you have saved them)")
    return "\n".join(lines) + "\n"


def _secret_lines(seed, openai_base, first_run_file):
    key = seed.key_secret or "<your key>"
    where = "" if first_run_file is None else f" and in {first_run_file} (readable by you only; delete it then)"
    lines = ["", f"Demo installation created. Save these now: they are stored hashed and shown only here{where}."]
    lines.append(f"  Admin e-mail         {seed.admin_email}")
    if seed.password:
        lines.append(f"  Admin password       {seed.password}")
    if seed.key_secret:
        lines.append(f"  API key              {seed.key_secret}")
    lines += [
        "",
        "Try it:",
        f"  curl {openai_base}/chat/completions \\",
        f'    -H "Authorization: Bearer {key}" -H "Content-Type: application/json" \\',
        f"    -d '{{\"model\": \"{DEMO_ROUTE_NAME}\", "
        f"\"messages\": [{{\"role\": \"user\", \"content\": \"Hello\"}}]}}'",
    ]
    return lines
