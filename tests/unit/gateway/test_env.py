"""The strict environment helpers and the two modes of settings."""
import json
import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from gateway import env

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.mark.parametrize("value,expected", [("1", True), ("yes", True), ("off", False), ("", False)])
def test_it_reads_booleans(monkeypatch, value, expected):
    monkeypatch.setenv("SY_FLAG", value)
    assert env.env_bool("SY_FLAG") is expected


def test_it_names_the_variable_of_a_bad_value(monkeypatch):
    monkeypatch.setenv("SY_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="SY_FLAG"):
        env.env_bool("SY_FLAG")
    monkeypatch.setenv("SY_NUM", "ten")
    with pytest.raises(ImproperlyConfigured, match="SY_NUM"):
        env.env_int("SY_NUM", 1)
    monkeypatch.setenv("SY_NUM", "0")
    with pytest.raises(ImproperlyConfigured, match="SY_NUM=0 is below the minimum 1"):
        env.env_int("SY_NUM", 1, minimum=1)
    monkeypatch.setenv("SY_URL", "mysql://x")
    with pytest.raises(ImproperlyConfigured, match="SY_URL"):
        env.env_url("SY_URL", ("postgres",))


def test_it_reads_secrets_from_files(monkeypatch, tmp_path):
    secret_file = tmp_path / "s"
    secret_file.write_text("from-file\n")
    monkeypatch.delenv("SY_SECRET", raising=False)
    monkeypatch.setenv("SY_SECRET_FILE", str(secret_file))
    assert env.env_secret("SY_SECRET") == "from-file"


def test_it_generates_a_secret_once_with_private_permissions(monkeypatch, tmp_path):
    monkeypatch.delenv("SY_SECRET", raising=False)
    monkeypatch.delenv("SY_SECRET_FILE", raising=False)
    first = env.env_secret("SY_SECRET", generated_into=tmp_path / "sec")
    assert env.env_secret("SY_SECRET", generated_into=tmp_path / "sec") == first and len(first) >= 40
    assert oct((tmp_path / "sec").stat().st_mode & 0o777) == "0o600"


def _settings_in_subprocess(extra_env, tmp_path):
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SWITCHYARD_DEV")}
    clean.update(SWITCHYARD_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="gateway.settings", **extra_env)
    code = (
        "import json; from django.conf import settings as s; "
        "print(json.dumps({'db': s.DATABASES['default']['ENGINE'], 'broker': s.CELERY_BROKER_URL, "
        "'cache': s.CACHES['default']['BACKEND'], 'debug': s.DEBUG, 'embedded': s.EMBEDDED}))"
    )
    return subprocess.run([sys.executable, "-c", code], env=clean, cwd=ROOT, capture_output=True, text=True)


def test_it_runs_embedded_without_environment(tmp_path):
    result = _settings_in_subprocess({}, tmp_path)
    assert result.returncode == 0, result.stderr
    conf = json.loads(result.stdout)
    assert conf["db"].endswith("sqlite3") and conf["broker"].startswith("filesystem://")
    assert conf["cache"].endswith("LocMemCache") and conf["debug"] is False and conf["embedded"] is True
    assert {p.name for p in tmp_path.iterdir()} >= {"secret_key", "encryption_key", "key_pepper"}


def test_it_uses_postgres_and_redis_when_given(tmp_path):
    urls = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x", "REDIS_URL": "redis://127.0.0.1:6379/3"}
    conf = json.loads(_settings_in_subprocess(urls, tmp_path).stdout)
    assert conf["db"].endswith("postgresql") and conf["broker"].startswith("redis://")
    assert conf["cache"].endswith("RedisCache") and conf["embedded"] is False


def test_it_fails_at_start_up_on_a_bad_variable(tmp_path):
    result = _settings_in_subprocess({"MAX_BODY_BYTES": "lots"}, tmp_path)
    assert result.returncode != 0 and "MAX_BODY_BYTES" in result.stderr


def test_it_migrates_sqlite_from_scratch(tmp_path):
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    clean["SWITCHYARD_VAR_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], env=clean, cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "switchyard.sqlite3").stat().st_size > 0


@pytest.mark.django_db
def test_it_has_a_migration_for_every_model_change():
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_site_url_follows_host_and_port_unless_set(tmp_path):
    """Alert payloads and the portal's snippets link to SITE_URL: with PORT=9123 they must say 9123."""
    def site_url(extra):
        clean = {k: v for k, v in os.environ.items() if k not in ("SITE_URL", "HOST", "PORT")}
        clean.update(SWITCHYARD_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="gateway.settings", **extra)
        code = "from django.conf import settings; from portal.snippets import base_url; print(settings.SITE_URL, base_url())"
        done = subprocess.run([sys.executable, "-c", code], env=clean, cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert site_url({}) == ["http://127.0.0.1:8000", "http://127.0.0.1:8000/v1"]
    assert site_url({"PORT": "9123", "HOST": "0.0.0.0"}) == ["http://127.0.0.1:9123", "http://127.0.0.1:9123/v1"]
    assert site_url({"HOST": "::1", "PORT": "9124"})[0] == "http://[::1]:9124"
    assert site_url({"SITE_URL": "https://ai.example.com", "PORT": "9123"})[0] == "https://ai.example.com"
