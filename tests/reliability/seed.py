"""Prepare a private database for the outage tests: migrate, then a tenant, a key and routes.

    DATABASE_URL=... REDIS_URL=... SWITCHYARD_VAR_DIR=... python -m tests.reliability.seed OPENAI_URL ANTHROPIC_URL

Prints the key's secret as the last line. Runs in its own process because the test process's
Django connection belongs to the shared test database.
"""
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")


def main(openai_url: str, anthropic_url: str) -> str:
    import django

    django.setup()
    from django.core.management import call_command

    from gateway.models import Provider, Route, Tenant
    from gateway.services.keys import key_create
    from gateway.services.routes import route_save
    from tests.conftest import make_member
    from tests.fakes import DEFAULT_KEYS

    call_command("migrate", verbosity=0, interactive=False)
    tenant = Tenant.objects.create(slug="outage", name="Outage")
    key, secret = key_create(tenant=tenant, name="load", owner=make_member(tenant, "load@outage.test", "developer"))
    openai = Provider.objects.create(name="fake-openai", kind="openai", base_url=openai_url,
                                     api_key=DEFAULT_KEYS["openai"])
    anthropic = Provider.objects.create(name="fake-anthropic", kind="anthropic", base_url=anthropic_url,
                                        api_key=DEFAULT_KEYS["anthropic"])
    for name, target, model in (("gpt", openai, "gpt-4o-mini"), ("embed", openai, "text-embedding-3-small"),
                                ("claude", anthropic, "claude-3-5-haiku-latest")):
        route_save(Route(name=name), targets=[(target, model, 1)])
    return secret


if __name__ == "__main__":
    print(main(sys.argv[1], sys.argv[2]))
