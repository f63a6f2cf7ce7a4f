"""Upstream providers: where requests go and with which credentials."""
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from gateway.crypto import EncryptedTextField
from gateway.dataplane.netguard import BlockedAddress, Unresolvable, ip_of, parse_cidrs, resolve_checked
from gateway.models.tenants import Tenant

name_validator = RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$", "letters, digits and . _ : / -")


class ProviderKind(models.TextChoices):
    OPENAI = "openai"
    AZURE_OPENAI = "azure_openai"
    ANTHROPIC = "anthropic"
    GEMINI = "gemini"
    MOCK = "mock"
    MISTRAL = "mistral"
    GROQ = "groq"
    DEEPSEEK = "deepseek"
    TOGETHER = "together"
    OPENROUTER = "openrouter"
    VLLM = "vllm"
    OLLAMA = "ollama"
    OPENAI_COMPATIBLE = "openai_compatible"


# Base URLs used when a provider of this kind is configured without one.
DEFAULT_BASE_URLS = {
    ProviderKind.OPENAI: "https://api.openai.com/v1",
    ProviderKind.ANTHROPIC: "https://api.anthropic.com",
    ProviderKind.GEMINI: "https://generativelanguage.googleapis.com/v1beta",
    ProviderKind.MISTRAL: "https://api.mistral.ai/v1",
    ProviderKind.GROQ: "https://api.groq.com/openai/v1",
    ProviderKind.DEEPSEEK: "https://api.deepseek.com/v1",
    ProviderKind.TOGETHER: "https://api.together.xyz/v1",
    ProviderKind.OPENROUTER: "https://openrouter.ai/api/v1",
    ProviderKind.VLLM: "http://127.0.0.1:8000/v1",
    ProviderKind.OLLAMA: "http://127.0.0.1:11434/v1",
    ProviderKind.MOCK: "",
}


def validate_base_url(value):
    # Looser than URLField on purpose: compose/k8s service names (http://ollama:11434) have no TLD.
    parts = urlsplit(value)
    if value and (parts.scheme not in ("http", "https") or not parts.hostname):
        raise ValidationError("must be an http:// or https:// URL")


def base_url_address_problem(url):
    """Why the SSRF guard would refuse `url` under the current settings, or None.

    The save-time half of the guard (the connect-time one in netguard.py is the real defence:
    DNS can change after saving). A name is resolved here unless SSRF_RESOLVE_ON_SAVE is off;
    one that does not resolve here is accepted (a data-plane-only name) and returned as
    Unresolvable so apply_config can warn about it.
    """
    host = urlsplit(url).hostname
    if not host:
        return None
    if not settings.SSRF_RESOLVE_ON_SAVE and ip_of(host) is None:
        return None
    try:
        resolve_checked(host, settings.SSRF_ALLOW_PRIVATE, parse_cidrs(settings.SSRF_ALLOW_CIDRS))
    except (BlockedAddress, Unresolvable) as exc:
        return exc
    return None


def validate_headers(value):
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValidationError("headers must map header names to string values")


class Provider(models.Model):
    """An upstream deployment. tenant=None: shared by every tenant, managed by platform admins."""

    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="providers")
    name = models.CharField(max_length=100, validators=[name_validator])
    kind = models.CharField(max_length=32, choices=ProviderKind.choices)
    base_url = models.CharField(max_length=500, blank=True, validators=[validate_base_url])
    api_key = EncryptedTextField(blank=True, default="")
    # Non-secret extra headers sent upstream (e.g. an organisation id).
    headers = models.JSONField(default=dict, blank=True, validators=[validate_headers])
    # Kind-specific settings: azure api_version/deployments, mock latency/errors, ...
    options = models.JSONField(default=dict, blank=True)
    connect_timeout = models.FloatField(null=True, blank=True)
    first_byte_timeout = models.FloatField(null=True, blank=True)
    idle_timeout = models.FloatField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="provider_unique_name"),
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(tenant__isnull=True), name="provider_unique_global_name"
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        """Refuse a base URL the SSRF guard would refuse at connect time (console and API)."""
        if self.kind == ProviderKind.MOCK:
            return
        problem = base_url_address_problem(self.effective_base_url)
        if isinstance(problem, BlockedAddress):
            raise ValidationError({"base_url": str(problem)})

    @property
    def effective_base_url(self):
        return self.base_url or DEFAULT_BASE_URLS.get(self.kind, "")

    @property
    def has_api_key(self):
        return bool(self.api_key)
