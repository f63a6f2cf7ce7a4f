"""Strict readers for the environment.

settings.py reads the environment only through these helpers, so a bad value
fails at start-up with the variable's name instead of misbehaving later.
"""
import ipaddress
import os
import secrets
from pathlib import Path
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name):
    value = os.environ.get(name)
    return None if value is None else value.strip()


def env_str(name, default=""):
    value = _raw(name)
    return default if value is None else value


def env_choice(name, default, choices):
    value = _raw(name)
    if value is None or value == "":
        return default
    if value.upper() not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value.upper()


def env_bool(name, default=False):
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def env_int(name, default, minimum=None):
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below the minimum {minimum}")
    return number


def env_float(name, default, minimum=0.0):
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below the minimum {minimum}")
    return number


def env_list(name, default=()):
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_networks(name):
    """Comma-separated networks (CIDRs or single addresses), each checked, normalised to CIDRs."""
    networks = []
    for item in env_list(name):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {item!r} is not an IP address or network (CIDR)") from None
    return networks


def env_url(name, schemes):
    """A URL whose scheme is one of `schemes`, or None when unset."""
    value = _raw(name)
    if not value:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not (parsed.hostname or parsed.path):
        raise ImproperlyConfigured(f"{name} must be a URL with scheme {'/'.join(schemes)}")
    return value


def _given_secret(name):
    """NAME's value, or the contents of the file NAME_FILE names, or None when neither is set."""
    value = _raw(name)
    if value:
        return value
    file_name = _raw(f"{name}_FILE")
    if not file_name:
        return None
    try:
        return Path(file_name).read_text().strip()
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}_FILE={file_name!r} cannot be read: {exc.strerror}") from None


def env_secret(name, generated_into=None, nbytes=50):
    """A secret from NAME, from the file named by NAME_FILE, or generated once.

    Generated secrets live in `generated_into` (under var/, never committed) with
    mode 0600 so every process of this installation reads the same value.
    """
    value = _given_secret(name)
    if value is not None:
        return value
    if generated_into is None:
        raise ImproperlyConfigured(f"{name} is required")
    return _generated_secret(Path(generated_into), nbytes)


def env_secrets(files, generate, refusal):
    """{NAME: secret} for each NAME in `files` ({NAME: path to generate it into}).

    Without `generate`, every secret must be given (NAME or NAME_FILE): one ImproperlyConfigured
    names all the missing ones, then `refusal` says why and what else to do.
    """
    if generate:
        return {name: env_secret(name, generated_into=path) for name, path in files.items()}
    values = {name: _given_secret(name) for name in files}
    missing = [f"{name} (or {name}_FILE)" for name, value in values.items() if value is None]
    if missing:
        raise ImproperlyConfigured(f"missing {', '.join(missing)}: {refusal}")
    return values


def _generated_secret(path, nbytes):
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    # O_EXCL: when several processes start at once, exactly one writes the file.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


UNSPECIFIED_HOSTS = frozenset({"", "0.0.0.0", "::"})


def local_url(host, port):
    """Where a browser on this machine reaches a server listening on host:port: 0.0.0.0 is where
    a server listens, not an address anyone can visit."""
    host = "127.0.0.1" if host in UNSPECIFIED_HOSTS else host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}"
