"""Production mode's settings: given secrets, HTTPS, and `check --deploy` (issue 14, finding 7).

Settings read the environment at import, so each case runs in a fresh interpreter, as in
test_env.py. The suite's own single-host, plain-HTTP variables (tests/plugin_env.py) are
removed here, with DATABASE_URL and REDIS_URL: each case sets its own mode.
"""
import os
import subprocess
import sys

import pytest
from django.test import Client

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SECRETS = ("SECRET_KEY", "SWITCHYARD_ENCRYPTION_KEY", "SWITCHYARD_KEY_PEPPER")
SUITE_ONLY = ("DATABASE_URL", "REDIS_URL", "SWITCHYARD_GENERATE_SECRETS", "SECURE_SSL_REDIRECT",
              "SECURE_HSTS_SECONDS", "SWITCHYARD_DEV", "TRUSTED_PROXIES",
              *SECRETS, *(f"{name}_FILE" for name in SECRETS))
PRODUCTION = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x", "REDIS_URL": "redis://127.0.0.1:6379/3"}
GIVEN = {name: f"given-{name.lower()}-" + "x" * 50 for name in SECRETS}  # 50+ characters: check W009


def run(code, tmp_path, **env):
    clean = {k: v for k, v in os.environ.items() if k not in SUITE_ONLY}
    clean.update(SWITCHYARD_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="gateway.settings", **env)
    return subprocess.run([sys.executable, "-c", code], env=clean, cwd=ROOT, capture_output=True, text=True)


SETTINGS = "from django.conf import settings; settings.SECRET_KEY"
CHECK_DEPLOY = "import django; django.setup(); from django.core.management import call_command; " \
               "call_command('check', deploy=True)"


def test_it_refuses_to_start_in_production_without_its_secrets_naming_each(tmp_path):
    result = run(SETTINGS, tmp_path, **PRODUCTION)
    assert result.returncode != 0 and "ImproperlyConfigured" in result.stderr
    for name in SECRETS:
        assert f"{name} (or {name}_FILE)" in result.stderr
    assert "SWITCHYARD_GENERATE_SECRETS=1" in result.stderr
    assert not any(tmp_path.iterdir()), "nothing may be generated into var/"


def test_it_names_only_the_secrets_still_missing(tmp_path):
    pepper = tmp_path / "pepper"
    pepper.write_text("from-a-file-" + "p" * 40)
    result = run(SETTINGS, tmp_path, SECRET_KEY=GIVEN["SECRET_KEY"], SWITCHYARD_KEY_PEPPER_FILE=str(pepper),
                 **PRODUCTION)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "SWITCHYARD_ENCRYPTION_KEY (or SWITCHYARD_ENCRYPTION_KEY_FILE)" in last
    assert "SECRET_KEY (or" not in last.replace("ENCRYPTION_KEY (or", "") and "PEPPER" not in last


def test_it_generates_secrets_in_production_only_when_declared_single_host(tmp_path):
    result = run("from django.conf import settings; print(settings.KEY_PEPPER)", tmp_path,
                 SWITCHYARD_GENERATE_SECRETS="1", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "key_pepper").read_text() == result.stdout.strip()
    assert {p.name for p in tmp_path.iterdir()} >= {"secret_key", "encryption_key", "key_pepper"}


def test_it_keeps_generating_secrets_in_embedded_mode(tmp_path):
    result = run(SETTINGS, tmp_path)
    assert result.returncode == 0, result.stderr
    assert {p.name for p in tmp_path.iterdir()} >= {"secret_key", "encryption_key", "key_pepper"}


def test_it_passes_check_deploy_in_production_without_security_warnings(tmp_path):
    result = run(CHECK_DEPLOY, tmp_path, ALLOWED_HOSTS="gateway.example.com", **GIVEN, **PRODUCTION)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "security.W004" not in output and "security.W008" not in output
    assert "security." not in output, output  # none of Django's deployment warnings at all


def test_it_sends_hsts_and_redirects_plain_http_in_production(tmp_path):
    code = ("from django.conf import settings as s; "
            "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER)")
    production = run(code, tmp_path, **GIVEN, **PRODUCTION)
    assert production.stdout.split() == ["True", "3600", "None"], production.stderr
    behind_proxy = run(code, tmp_path, TRUSTED_PROXIES="10.0.0.0/8", SECURE_HSTS_SECONDS="31536000",
                       **GIVEN, **PRODUCTION)
    assert behind_proxy.stdout.split()[:2] == ["True", "31536000"] and "HTTP_X_FORWARDED_PROTO" in behind_proxy.stdout
    embedded = run(code, tmp_path)
    assert embedded.stdout.split() == ["False", "0", "None"], embedded.stderr


@pytest.mark.django_db
def test_it_believes_x_forwarded_proto_only_from_a_trusted_proxy(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    https = {"HTTP_X_FORWARDED_PROTO": "https"}
    via_proxy = Client().get("/console/login/", REMOTE_ADDR="10.1.2.3", **https)
    assert via_proxy.status_code == 200
    assert via_proxy["Strict-Transport-Security"] == "max-age=3600; includeSubDomains"  # sent over HTTPS only
    direct = Client().get("/console/login/", REMOTE_ADDR="198.51.100.7", **https)
    assert direct.status_code == 301 and direct["Location"].startswith("https://")
    assert Client().get("/healthz", REMOTE_ADDR="198.51.100.7").status_code == 200  # probes are exempt
