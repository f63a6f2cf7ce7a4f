"""Switchyard settings.

Two modes, one code path: with no environment variables everything is embedded
(SQLite under var/, in-process cache, Celery on the filesystem transport); with
DATABASE_URL and REDIS_URL, PostgreSQL and Redis serve every role.
The environment is read only through gateway.env's strict helpers.
"""
from pathlib import Path

import dj_database_url

from gateway.env import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_networks,
    env_secret,
    env_secrets,
    env_str,
    env_url,
    local_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("SWITCHYARD_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("SWITCHYARD_DEV", False)
DATABASE_URL = env_url("DATABASE_URL", ("postgres", "postgresql", "sqlite"))  # set: production mode

# Secrets generated into var/ belong to one host: N replicas would each make their own, and their
# sessions, encrypted credentials and key hashes would disagree. So production mode refuses to
# start without them, unless SWITCHYARD_GENERATE_SECRETS=1 declares a single host.
GENERATE_SECRETS = env_bool("SWITCHYARD_GENERATE_SECRETS", DATABASE_URL is None)
_SECRETS = env_secrets(
    {
        "SECRET_KEY": VAR_DIR / "secret_key",  # Django's signing key (sessions, CSRF)
        # Encrypts provider credentials at rest; older keys may be listed for rotation.
        "SWITCHYARD_ENCRYPTION_KEY": VAR_DIR / "encryption_key",
        # HMAC pepper for client API keys: a leaked database alone cannot be brute-forced.
        "SWITCHYARD_KEY_PEPPER": VAR_DIR / "key_pepper",
    },
    generate=GENERATE_SECRETS,
    refusal="production mode (DATABASE_URL is set) needs the same secrets on every replica; set them, "
    "or SWITCHYARD_GENERATE_SECRETS=1 on a single host to generate them into SWITCHYARD_VAR_DIR",
)
SECRET_KEY = _SECRETS["SECRET_KEY"]
ENCRYPTION_KEY = _SECRETS["SWITCHYARD_ENCRYPTION_KEY"]
ENCRYPTION_KEYS_OLD = env_list("SWITCHYARD_ENCRYPTION_KEYS_OLD")
KEY_PEPPER = _SECRETS["SWITCHYARD_KEY_PEPPER"]

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# Unset: follows HOST and PORT, as `make run` prints it (alert payloads and portal snippets link here).
SITE_URL = env_str("SITE_URL", "") or local_url(env_str("HOST", "127.0.0.1"), env_int("PORT", 8000, minimum=1))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "js_lib_htmx",  # serves htmx.min.js from the django-js-lib-htmx wheel (no committed vendor JS)
    "channels",
    "gateway",
    "billing",
    "portal",
    "prompts",
    "analytics",
]

MIDDLEWARE = [
    "gateway.client_address.TrustedProxyMiddleware",  # first: before anything reads X-Forwarded-Proto
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "gateway.audit_context.AuditActorMiddleware",
]

ROOT_URLCONF = "gateway.urls"
ASGI_APPLICATION = "gateway.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- databases, cache, broker: embedded unless DATABASE_URL / REDIS_URL -----
REDIS_URL = env_url("REDIS_URL", ("redis", "rediss", "unix"))
EMBEDDED = REDIS_URL is None

# Under ASGI, Django runs each request's sync code in a thread of its own, so a persistent
# connection (CONN_MAX_AGE > 0) stayed open per finished thread: 150 REST calls in a row exhausted
# PostgreSQL (issue 14). A per-process psycopg pool bounds and reuses them instead (0 turns it off:
# a connection per request, e.g. behind PgBouncer); README "Modes" has the measurements.
DATABASE_POOL_MAX_SIZE = env_int("DATABASE_POOL_MAX_SIZE", 8, minimum=0)
if DATABASE_URL:
    # Health checks: with the pool, a connection PostgreSQL dropped (restart, failover) is
    # replaced before a request gets it (psycopg_pool's check_connection).
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0, conn_health_checks=True)}
    if DATABASE_POOL_MAX_SIZE and DATABASES["default"]["ENGINE"].endswith("postgresql"):
        DATABASES["default"]["OPTIONS"] = {"pool": {
            "min_size": 1,  # one warm connection per idle process; the rest close after max_idle (10 min)
            "max_size": DATABASE_POOL_MAX_SIZE,
            "timeout": 10.0,  # seconds a request waits for a free connection before failing (a 500)
        }}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "switchyard.sqlite3",
            # WAL lets the server, worker and beat processes read while one writes.
            "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    # The layer's receive is a server-side BZPOPMIN of 5 s (channels_redis's brpop_timeout); under
    # redis-py's default 5-s read timeout an idle receive raised TimeoutError: read up to 15 s.
    _layer_host = {"address": REDIS_URL, "socket_timeout": 15}
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [_layer_host]}}
    }
    CELERY_BROKER_URL = REDIS_URL
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "filesystem://localhost//"  # a host part keeps kombu from warning
    # kombu's filesystem transport with atomic (rename-into-place) writes: the stock one lets the
    # worker read half-written messages (celery/kombu#1551). Why not SQLAlchemy or a thread: see the module.
    CELERY_BROKER_TRANSPORT = "gateway.celery_transport:Transport"
    _celery_dir = VAR_DIR / "celery"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_dir / "queue"),
        "data_folder_out": str(_celery_dir / "queue"),
        # Messages are written whole here, then renamed into queue/ (same filesystem).
        "staging_folder": str(_celery_dir / "staging"),
        # The worker claims a message by renaming it here, reads it and deletes it.
        "processed_folder": str(_celery_dir / "processed"),
        # kombu's broadcast (pidbox) messages; defaults to ./control in the working directory.
        "control_folder": str(_celery_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
# Celery worker and beat (gateway/run.py) log at WARNING unless LOG_LEVEL is set: at INFO they print
# a line per task, ~180 a minute, and the first-run banner with the one-time secrets scrolls away.
WORKER_LOG_LEVEL = env_choice("LOG_LEVEL", "WARNING", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    # The ledger trails traffic by about this much; the drain itself is batched.
    "drain-usage": {"task": "billing.drain_usage", "schedule": 1.0},
    "replay-spools": {"task": "billing.replay_spools", "schedule": 30.0},
    # Reports are at most this stale; each run rebuilds the previous and current hour and
    # each tenant's local yesterday and today. A run queued longer than its interval is dropped.
    "rollup-recent": {"task": "analytics.rollup_recent", "schedule": 300.0, "options": {"expires": 290}},
    # Budget thresholds and spend anomalies; a run queued longer than its interval is dropped.
    "alerts-evaluate": {"task": "billing.alerts_evaluate", "schedule": 60.0, "options": {"expires": 55}},
    # Budget counters drift from the ledger only through crashes and outages: a few minutes bounds it.
    "reconcile-budgets": {"task": "billing.reconcile_budgets", "schedule": 180.0, "options": {"expires": 170}},
}
# Task modules outside an app's tasks.py, which autodiscovery does not find.
CELERY_IMPORTS = ["billing.alerts.tasks"]

# --- e-mail (alerts) -----------------------------------------------------------
# Without EMAIL_HOST, mail is printed by the worker (console backend), so embedded mode works offline.
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)  # submission port, STARTTLS
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
# Required (or EMAIL_HOST_PASSWORD_FILE) once a user is set: fail at start-up, not at the first alert.
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD") if EMAIL_HOST_USER else ""
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)  # implicit TLS (port 465)
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", not EMAIL_USE_SSL)  # STARTTLS; Django refuses both at once
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)  # seconds; a Celery worker must not hang on SMTP
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Switchyard <switchyard@localhost>")

# --- auth and sessions ------------------------------------------------------
AUTH_USER_MODEL = "gateway.User"
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:home"
PORTAL_OPEN_SIGNUP, PORTAL_SIGNUP_TENANT = env_bool("PORTAL_OPEN_SIGNUP", False), env_str("PORTAL_SIGNUP_TENANT", "demo")  # noqa: E501 developer portal self-service sign-up (off: invitations only) and the tenant it joins
LOGOUT_REDIRECT_URL = "console:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Proxies (load balancers) whose X-Forwarded-For and X-Forwarded-Proto are believed, as CIDRs;
# empty: the TCP peer is the client (gateway/client_address.py). Never inferred from loopback.
TRUSTED_PROXIES = env_networks("TRUSTED_PROXIES")
SECURE_COOKIES = env_bool("SECURE_COOKIES", not DEBUG and bool(DATABASE_URL))
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# HTTPS: production serves the console, portal and API over HTTPS (its cookies are Secure), so
# plain HTTP is redirected and browsers are told to keep to HTTPS. The data plane (/v1/,
# /anthropic/) is not Django: never redirected. Embedded mode is a plain-HTTP developer machine.
_HTTPS_ONLY = not DEBUG and bool(DATABASE_URL)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _HTTPS_ONLY)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # health probes (kubelet, compose) speak plain HTTP to the process
# An hour by default: long enough to protect, short enough to undo a mistake; raise it to a year
# (31536000) once HTTPS is settled. 0 sends no HSTS header.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 3600 if _HTTPS_ONLY else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)  # this host's subdomains only
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# security.W021 (no HSTS preload) is silenced while preload is off: preloading asks browser vendors
# to hard-code the whole domain as HTTPS-only, months to undo; the domain owner's call, not a default.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# Behind a TLS-terminating load balancer the request arrives as HTTP: its X-Forwarded-Proto says
# what the client used. Believed only from TRUSTED_PROXIES (gateway.client_address drops it from
# anyone else); without them, such a balancer's requests would be redirected forever.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXIES else None

# --- REST API ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "gateway.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "gateway.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Switchyard admin API",
    "DESCRIPTION": "Tenants, teams, members, keys, providers, routes, budgets and the audit log.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's assets come from the drf-spectacular-sidecar package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The enum hook is drf-spectacular's default; ours documents the error envelope's 4xx answers.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "gateway.api.schema.error_responses"],
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "gateway.models.tenants.Role",
        "ProviderKindEnum": "gateway.models.providers.ProviderKind",
        "AlertChannelKindEnum": "billing.models_alerts.AlertChannel.Kind",
        "AlertKindEnum": "billing.models_alerts.AlertKind",
    },
}

# --- data plane ---------------------------------------------------------------
MAX_BODY_BYTES = env_int("MAX_BODY_BYTES", 10 * 1024 * 1024, minimum=1024)
UPSTREAM_CONNECT_TIMEOUT = env_float("UPSTREAM_CONNECT_TIMEOUT", 5.0)
UPSTREAM_FIRST_BYTE_TIMEOUT = env_float("UPSTREAM_FIRST_BYTE_TIMEOUT", 60.0)
UPSTREAM_IDLE_TIMEOUT = env_float("UPSTREAM_IDLE_TIMEOUT", 30.0)
SSRF_ALLOW_PRIVATE = env_bool("SSRF_ALLOW_PRIVATE", False)
# Embedded mode runs on a developer's machine, where local model servers (ollama, vLLM) listen on
# loopback: allowed by default there, refused by default in production. A set value (even empty) wins.
SSRF_ALLOW_CIDRS = env_list("SSRF_ALLOW_CIDRS", ("127.0.0.0/8", "::1/128") if EMBEDDED else ())
# Client read deadlines (gateway/http_protocol.py), in seconds: request line and headers must
# arrive within HTTP_HEADER_TIMEOUT of the connection's opening, and a body may pause at most
# HTTP_BODY_TIMEOUT; slowloris clients held connections for as long as they liked. Idle
# kept-alive connections close after HTTP_KEEPALIVE_TIMEOUT (behind a load balancer that
# reuses connections, set it above the balancer's own idle timeout).
HTTP_HEADER_TIMEOUT = env_float("HTTP_HEADER_TIMEOUT", 15.0, minimum=0.1)
HTTP_BODY_TIMEOUT = env_float("HTTP_BODY_TIMEOUT", 15.0, minimum=0.1)
HTTP_KEEPALIVE_TIMEOUT = env_float("HTTP_KEEPALIVE_TIMEOUT", 5.0, minimum=0.1)  # uvicorn's default
# Browser origins the data plane answers (gateway/dataplane/cors.py): exact origins such as
# https://app.example.com, or "*" for any; empty (the default) turns CORS off.
CORS_ALLOWED_ORIGINS = [origin.rstrip("/") for origin in env_list("CORS_ALLOWED_ORIGINS")]
# Save-time check of provider base URLs: resolve names too (off: only IP literals are checked then).
SSRF_RESOLVE_ON_SAVE = env_bool("SSRF_RESOLVE_ON_SAVE", True)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every start otherwise
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve static files (incl. Swagger UI from drf-spectacular-sidecar) without collectstatic.
WHITENOISE_USE_FINDERS = True

LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}
