"""apply_config / export_config against the real database: upsert, idempotency, fixed point, rejection."""
import io
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import yaml
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection

from billing.models import Budget
from gateway.models import ApiKey, AuditEvent, Membership, Provider, Route, Team, Tenant, User
from gateway.services import config_apply
from gateway.services.keys import key_authenticate

CI_SECRET = "sy-ci0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
ROTATED_SECRET = "sy-rot0123456789abcdefghijklmnopqrstuvwxyzABCDEF"
OPENAI_KEY = "sk-test-openai-plaintext"
ADMIN_PASSWORD = "correct horse battery staple"
SECRET_LINE = re.compile(r"^key (\S+): (sy-\S+)  \(store it now; it is not shown again\)$", re.MULTILINE)

FULL = """
providers:
  - name: openai-main
    kind: openai
    base_url: https://api.openai.com/v1
    api_key: ${OPENAI_API_KEY}
    headers: {OpenAI-Organization: "${OPENAI_ORG:-org-default}"}
  - name: anthropic-main
    kind: anthropic
    api_key: ${ANTHROPIC_API_KEY}
    first_byte_timeout: 45
routes:
  - name: gpt-4o-mini
    targets:
      - {provider: openai-main, model: gpt-4o-mini, weight: 1}
    fallbacks: [claude-haiku]
    description: "costs $${PRICE} via ${ROUTE_NOTE:-the default}"
    timeouts: {first_byte: 30}
  - name: claude-haiku
    targets:
      - {provider: anthropic-main, model: claude-3-5-haiku-latest}
    strategy: round_robin
tenants:
  - slug: acme
    name: Acme Corp
    time_zone: Europe/Paris
    teams: [{name: research}]
    users:
      - {email: Ops@Acme.test, role: admin, password: "${ACME_ADMIN_PASSWORD}"}
      - {email: dev@acme.test, role: developer, team: research}
    providers:
      - {name: acme-vllm, kind: vllm, base_url: "http://vllm:8000/v1"}
    routes:
      - name: acme-llama
        targets:
          - {provider: acme-vllm, model: llama, weight: 3}
          - {provider: openai-main, model: gpt-4o-mini}
        fallbacks: [gpt-4o-mini]
    keys:
      - name: ci
        owner: ops@acme.test
        secret: ${ACME_CI_KEY}
        routes: [gpt-4o-mini, acme-llama]
        limits: {rpm: 600, tpm: 100000}
      - name: notebooks
        owner: dev@acme.test
        team: research
        expires_at: 2030-01-01
    budgets:
      - {scope: tenant, amount_usd: 100, period: monthly, action: block}
      - {scope: team, team: research, amount_usd: 25.5, action: alert, alert_thresholds: [75, 100]}
      - {scope: key, key: ci, amount_usd: 10, period: daily, route: gpt-4o-mini,
         action: downgrade, downgrade_route: acme-llama}
      - {scope: user, user: dev@acme.test, amount_usd: 0.123456, period: weekly}
  - slug: globex
    name: ${GLOBEX_NAME}
    users:
      - {email: ops@acme.test, role: viewer}
    keys:
      - {name: default}
    budgets:  # every entry commented out: null, read as an empty list
"""


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # PBKDF2 costs ~0.5 s per check; these tests check passwords on every apply.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("ACME_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("ACME_CI_KEY", CI_SECRET)
    # A value that would be YAML if it were pasted into the text before parsing.
    monkeypatch.setenv("GLOBEX_NAME", "Globex\nevil: true")
    monkeypatch.delenv("OPENAI_ORG", raising=False)
    monkeypatch.delenv("ROUTE_NOTE", raising=False)


@pytest.fixture
def full(env, tmp_path):
    return write(tmp_path, FULL)


def write(tmp_path, text, name="switchyard.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def apply(path, *args):
    out = io.StringIO()
    call_command("apply_config", str(path), *args, stdout=out)
    return out.getvalue()


def export(*args):
    out = io.StringIO()
    call_command("export_config", *args, stdout=out)
    return out.getvalue()


def row_counts():
    tables = set(connection.introspection.table_names())
    return {m._meta.label: m._default_manager.count() for m in apps.get_models() if m._meta.db_table in tables}


def raw_database_text():
    """Every row of every table as stored (encrypted columns as ciphertext)."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            chunks.append(repr(cursor.fetchall()))
    return "\n".join(chunks)


def config_rows():
    """Every configuration row (updated_at included), to prove that an apply rewrote nothing."""
    tables = set(connection.introspection.table_names())
    models = apps.get_models(include_auto_created=True)  # with the key-route link table
    config = [m for m in models if m._meta.app_label in ("gateway", "billing") and m._meta.db_table in tables]
    return {m: list(m.objects.order_by("pk").values()) for m in config if m is not AuditEvent}


@pytest.mark.django_db
def test_it_applies_a_full_file(full):
    out = apply(full)

    openai = Provider.objects.get(tenant=None, name="openai-main")
    assert (openai.api_key, openai.headers) == (OPENAI_KEY, {"OpenAI-Organization": "org-default"})
    assert Provider.objects.get(name="anthropic-main").first_byte_timeout == 45
    acme = Tenant.objects.get(slug="acme")
    assert Provider.objects.get(name="acme-vllm").tenant == acme
    mini = Route.objects.get(tenant=None, name="gpt-4o-mini")
    assert [(t.provider.name, t.model, t.weight) for t in mini.targets.all()] == [("openai-main", "gpt-4o-mini", 1)]
    assert [link.fallback.name for link in mini.fallback_links.all()] == ["claude-haiku"]
    assert mini.description == "costs ${PRICE} via the default"
    assert mini.timeouts == {"first_byte": 30.0}
    llama = Route.objects.get(name="acme-llama")
    assert llama.tenant == acme
    assert [(t.provider.name, t.weight) for t in llama.targets.all()] == [("acme-vllm", 3), ("openai-main", 1)]
    assert [link.fallback for link in llama.fallback_links.all()] == [mini]
    assert acme.time_zone == "Europe/Paris"
    assert Tenant.objects.get(slug="globex").name == "Globex\nevil: true"

    ops = User.objects.get(email="ops@acme.test")
    assert ops.check_password(ADMIN_PASSWORD)
    assert sorted(Membership.objects.filter(user=ops).values_list("tenant__slug", "role")) == [
        ("acme", "admin"), ("globex", "viewer")
    ]
    assert Membership.objects.get(user__email="dev@acme.test").team.name == "research"

    ci = ApiKey.objects.get(tenant=acme, name="ci")
    assert key_authenticate(CI_SECRET) == ci
    assert (ci.owner, ci.limits) == (ops, {"rpm": 600, "tpm": 100000})
    assert sorted(ci.routes.values_list("name", flat=True)) == ["acme-llama", "gpt-4o-mini"]
    notebooks = ApiKey.objects.get(name="notebooks")
    assert (notebooks.team.name, notebooks.expires_at) == ("research", datetime(2030, 1, 1, tzinfo=UTC))
    assert "acme/ci:" not in out and "key acme/notebooks: sy-" in out and "key globex/default: sy-" in out

    budgets = {b.scope: b for b in Budget.objects.filter(tenant=acme)}
    assert (budgets["tenant"].amount_usd, budgets["tenant"].alert_thresholds) == (Decimal(100), [50, 80, 100])
    assert (budgets["team"].team.name, budgets["team"].action, budgets["team"].alert_thresholds) == (
        "research", "alert", [75, 100]
    )
    key_budget = budgets["key"]
    assert (key_budget.api_key, key_budget.route, key_budget.downgrade_route) == (ci, mini, llama)
    assert (budgets["user"].user.email, budgets["user"].amount_usd) == ("dev@acme.test", Decimal("0.123456"))
    assert set(AuditEvent.objects.values_list("actor_label", flat=True)) == {"apply_config:switchyard.yaml"}


@pytest.mark.django_db
def test_it_prints_a_generated_secret_once_that_authenticates(full, caplog):
    out = apply(full)

    printed = dict(SECRET_LINE.findall(out))
    assert set(printed) == {"acme/notebooks", "globex/default"}
    stored = raw_database_text()
    for label, secret in printed.items():
        key = key_authenticate(secret)
        assert f"{key.tenant.slug}/{key.name}" == label
        assert secret not in stored and secret not in caplog.text
    for plaintext in (CI_SECRET, OPENAI_KEY, ADMIN_PASSWORD):
        assert plaintext not in stored and plaintext not in caplog.text and plaintext not in out

    again = apply(full)
    assert "sy-" not in again
    assert all(key_authenticate(secret) is not None for secret in printed.values())


@pytest.mark.django_db
def test_it_changes_nothing_on_a_second_apply(full):
    apply(full)
    before, audit_rows = config_rows(), AuditEvent.objects.count()

    out = apply(full)

    assert out.strip() == f"{full}: no changes"
    assert AuditEvent.objects.count() == audit_rows
    assert config_rows() == before
    assert apply(full, "--dry-run").strip() == f"{full}: no changes"


@pytest.mark.django_db
def test_it_rotates_a_key_secret_from_the_file(full, monkeypatch):
    apply(full)
    monkeypatch.setenv("ACME_CI_KEY", ROTATED_SECRET)

    out = apply(full)

    assert "updated key acme/ci: secret" in out
    assert key_authenticate(CI_SECRET) is None
    assert key_authenticate(ROTATED_SECRET).name == "ci"
    assert AuditEvent.objects.filter(object_type="gateway.apikey", action="rotate").count() == 1


@pytest.mark.django_db
def test_it_keeps_what_the_file_omits(full, tmp_path):
    apply(full)
    counts = row_counts()
    partial = write(tmp_path, "providers:\n  - {name: openai-main, kind: openai, base_url: 'https://proxy.test/v1'}\n", "p.yaml")

    out = apply(partial)

    openai = Provider.objects.get(name="openai-main")
    assert (openai.base_url, openai.api_key) == ("https://proxy.test/v1", OPENAI_KEY)
    assert "updated provider openai-main: base_url" in out
    assert {k: v for k, v in row_counts().items() if k != "gateway.AuditEvent"} == {
        k: v for k, v in counts.items() if k != "gateway.AuditEvent"
    }
    apply(write(tmp_path, "providers:\n  - {name: openai-main, kind: openai, api_key: ''}\n", "clear.yaml"))
    assert Provider.objects.get(name="openai-main").api_key == ""


@pytest.mark.django_db
def test_it_writes_nothing_on_a_dry_run(full):
    counts = row_counts()

    out = apply(full, "--dry-run")

    assert "would create provider openai-main" in out and "would create key acme/ci" in out
    assert "sy-" not in out and "dry run" in out
    assert row_counts() == counts


@pytest.mark.django_db
def test_it_reaches_a_fixed_point_through_export(full, tmp_path):
    apply(full)
    first = export()
    for secret_field in ("api_key:", "secret:", "password:", OPENAI_KEY, CI_SECRET, ADMIN_PASSWORD):
        assert secret_field not in first
    audit_rows = AuditEvent.objects.count()

    out = apply(write(tmp_path, first, "export.yaml"))

    assert out.strip().endswith("no changes")
    assert AuditEvent.objects.count() == audit_rows
    assert export() == first
    assert "$${PRICE}" in first


@pytest.mark.django_db
def test_it_rebuilds_the_same_config_from_an_export(full, tmp_path):
    apply(full)
    first = export()
    for model in (Budget, ApiKey, Route, Provider, Tenant, User):
        model.objects.all().delete()

    out = apply(write(tmp_path, first, "export.yaml"))

    # Secrets are not exported, so every key comes back with a new one.
    assert {label for label, _ in SECRET_LINE.findall(out)} == {"acme/ci", "acme/notebooks", "globex/default"}
    assert export() == first


@pytest.mark.django_db
def test_it_exports_one_tenant_to_a_file(full, tmp_path):
    apply(full)
    target = tmp_path / "acme.yaml"

    call_command("export_config", "--tenant", "acme", "--output", str(target), stdout=io.StringIO(), stderr=io.StringIO())

    data = yaml.safe_load(target.read_text())
    assert list(data) == ["tenants"] and [t["slug"] for t in data["tenants"]] == ["acme"]
    assert data["tenants"][0]["keys"][0] == {
        "name": "ci", "owner": "ops@acme.test", "routes": ["acme-llama", "gpt-4o-mini"],
        "limits": {"rpm": 600, "tpm": 100000},
    }
    with pytest.raises(CommandError, match="no tenant with slug 'nope'"):
        export("--tenant", "nope")


T1 = "tenants:\n  - "  # a file's first tenant, written in flow style after this prefix
# id: (file text, the path and message the error must contain)
BAD_FILES = {
    "unknown-field": (T1 + "{slug: t1, name: T, colour: red}", "tenants[0].colour: Extra inputs"),
    "wrong-type": (
        T1 + "{slug: t1, name: T, keys: [{name: k, limits: {rpm: lots}}]}",
        "tenants[0].keys[0].limits.rpm: Input should be a valid integer",
    ),
    "missing-env": (
        T1 + "{slug: t1, name: T, users: [{email: a@t.test, role: admin, password: '${SY_TEST_UNSET}'}]}",
        "tenants[0].users[0].password: environment variable SY_TEST_UNSET is not set",
    ),
    "unknown-provider": (
        "routes:\n  - {name: r1, targets: [{provider: nope, model: m}]}",
        "routes[0].targets[0].provider: unknown provider 'nope'",
    ),
    "unknown-key-route": (
        T1 + "{slug: t1, name: T, keys: [{name: a}, {name: b, routes: [gpt-4o-mini, nope]}]}",
        "tenants[0].keys[1].routes[1]: unknown route 'nope'",
    ),
    "fallback-to-itself": (
        "routes:\n  - {name: gpt-4o-mini, targets: [], fallbacks: [claude-haiku, gpt-4o-mini]}",
        "routes[0].fallbacks[1]: a route cannot fall back to itself",
    ),
    "yaml-syntax": ("tenants:\n  - slug: t1\n   name: [unclosed\n", "YAML syntax error at line 3, column"),
    "unknown-role": (
        T1 + "{slug: t1, name: T, users: [{email: a@t.test, role: emperor}]}",
        "tenants[0].users[0].role: Input should be 'owner', 'admin'",
    ),
    "not-a-mapping": ("- providers\n- routes\n", "the top level must be a mapping"),
    "duplicate-yaml-key": ("tenants: []\ntenants: []\n", "duplicate key 'tenants'"),
    "owner-not-a-member": (
        T1 + "{slug: acme, name: Acme Corp, keys: [{name: x, owner: stranger@t.test}]}",
        "tenants[0].keys[0].owner: stranger@t.test is not a user of tenant acme",
    ),
    "budget-without-subject": (
        T1 + "{slug: acme, name: Acme Corp, budgets: [{scope: team, amount_usd: 5}]}",
        "tenants[0].budgets[0].team: required when scope is team",
    ),
    "secret-of-another-key": (
        T1 + f"{{slug: globex, name: Globex, keys: [{{name: stolen, secret: {CI_SECRET}}}]}}",
        "tenants[0].keys[0].secret: already the secret of another key",
    ),
    "malformed-reference": (T1 + "{slug: t1, name: '${BROKEN'}", "tenants[0].name: malformed ${...}"),
}


@pytest.mark.django_db
@pytest.mark.parametrize(("text", "expected"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_it_rejects_a_bad_file_and_changes_nothing(full, tmp_path, monkeypatch, text, expected):
    apply(full)
    monkeypatch.delenv("SY_TEST_UNSET", raising=False)
    counts = row_counts()
    bad = write(tmp_path, text, "bad.yaml")

    with pytest.raises(CommandError) as error:
        apply(bad)

    assert str(bad) in str(error.value) and expected in str(error.value)
    assert row_counts() == counts


LATE_ERROR = """
providers:
  - {name: p1, kind: mock}
routes:
  - {name: r1, targets: [{provider: p1, model: m}]}
tenants:
  - {slug: t1, name: One, users: [{email: one@t.test, role: admin}], keys: [{name: k, owner: one@t.test}]}
  - {slug: t2, name: Two, teams: [{name: a}]}
  - slug: t3
    name: Three
    budgets:
      - {scope: tenant, amount_usd: 1}
      - {scope: tenant, amount_usd: 2, route: nope}
"""


@pytest.mark.django_db(transaction=True)
def test_it_rejects_an_error_found_late_after_valid_entries(tmp_path):
    counts = row_counts()

    with pytest.raises(CommandError, match=re.escape("tenants[2].budgets[1].route: unknown route 'nope'")):
        apply(write(tmp_path, LATE_ERROR))

    assert row_counts() == counts


@pytest.mark.django_db(transaction=True)
def test_it_rolls_back_everything_when_the_database_fails_midway(full, tmp_path, monkeypatch):
    apply(write(tmp_path, "providers:\n  - {name: early, kind: mock}\n", "early.yaml"))
    counts = row_counts()

    def fail(self, tenant, specs):
        raise IntegrityError("simulated failure after most rows were written")

    monkeypatch.setattr(config_apply._Applier, "_budgets", fail)
    with pytest.raises(CommandError, match="database error, nothing was changed"):
        apply(full)

    assert row_counts() == counts


@pytest.mark.django_db
def test_it_applies_the_example_file(env, settings):
    out = apply(settings.BASE_DIR / "deploy" / "examples" / "switchyard.yaml")

    assert {label for label, _ in SECRET_LINE.findall(out)} == {"acme/research-notebooks", "globex/default"}
    assert Team.objects.filter(tenant__slug="acme").count() == 2
    assert Budget.objects.filter(tenant__slug="acme").count() == 4
