"""The config-as-code file: YAML loading, ${VAR} expansion and the pydantic models of its shape.

ORM-free: what already exists in the database is checked by config_apply
against these models before anything is written.
"""
import os
import re
from collections.abc import Hashable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo

import yaml
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from billing.models import Budget, PriceOverride
from billing.models_prices import price_problems
from gateway import keyhash
from gateway.models import ProviderKind, Role, Route
from gateway.models.providers import validate_base_url


class ConfigError(Exception):
    """Everything wrong with one file, each problem as (path inside the file, message)."""

    def __init__(self, source, problems):
        self.source, self.problems = str(source), list(problems)
        super().__init__(str(self))

    def __str__(self):
        return "\n".join(f"{self.source}: {path}: {msg}" if path else f"{self.source}: {msg}" for path, msg in self.problems)


def format_path(loc):
    """('tenants', 0, 'keys', 1, 'routes') -> 'tenants[0].keys[1].routes'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


# --- loading -------------------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key given twice in one mapping (PyYAML silently keeps the last)."""


def _construct_unique_mapping(loader, node):
    seen = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *anchor` overrides are intended, not duplicates
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            continue  # construct_mapping reports unhashable keys itself
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def _yaml_problem(exc):
    # Only the position and the problem: YAML's own message quotes the file, which may hold secrets.
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "invalid YAML"
    if mark is None:
        return f"YAML syntax error: {problem}"
    return f"YAML syntax error at line {mark.line + 1}, column {mark.column + 1}: {problem}"


def load_config(path, environ=None):
    """Parse, expand and validate one file; raises ConfigError naming every problem found."""
    environ = os.environ if environ is None else environ
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [("", f"cannot read the file: {getattr(exc, 'strerror', None) or exc}")]) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as exc:
        raise ConfigError(path, [("", _yaml_problem(exc))]) from None
    if not isinstance(data, dict):
        raise ConfigError(path, [("", "the top level must be a mapping with providers:, routes: and tenants:")])
    problems = []
    data = _expand(data, environ, (), problems)
    if problems:
        raise ConfigError(path, problems)
    try:
        return ConfigFile.model_validate(data)
    except ValidationError as exc:
        # e["msg"] never quotes the input value, so a secret in a wrong place is not echoed.
        raise ConfigError(path, [(format_path(e["loc"]), _message(e)) for e in exc.errors()]) from None


def _message(error):
    # Our own validators' ValueErrors read better without pydantic's "Value error, " prefix.
    return error["msg"].removeprefix("Value error, ")


# `$${` is a literal `${`; `${NAME}` and `${NAME:-default}` are references; any other `${` is a typo.
_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{")


def _expand(value, environ, loc, problems):
    """Expand references in every string of the parsed document (never in raw text: no YAML injection)."""
    if isinstance(value, dict):
        return {k: _expand(v, environ, (*loc, k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, environ, (*loc, i), problems) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:
        return _REFERENCE.sub(lambda m: _substitute(m, environ, loc, problems), value)
    return value


def _substitute(match, environ, loc, problems):
    if match.group(0) == "$${":
        return "${"
    name, default = match.group(1), match.group(2)
    if name is None:
        problems.append((format_path(loc), "malformed ${...} (write ${NAME}, ${NAME:-default}, or $${ for a literal)"))
        return ""
    value = environ.get(name)
    if default is not None and not value:
        return default  # shell semantics: the default also replaces an empty value
    if value is None:
        problems.append((format_path(loc), f"environment variable {name} is not set"))
        return ""
    return value


def escape_references(value):
    """The inverse of expansion for exported strings: a stored `${` must come back as itself."""
    if isinstance(value, dict):
        return {k: escape_references(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escape_references(v) for v in value]
    if isinstance(value, str):
        return value.replace("${", "$${")
    return value


# --- field types -----------------------------------------------------------------------------------


def _email(value):
    try:
        validate_email(value)
    except DjangoValidationError:
        raise ValueError("not a valid e-mail address") from None
    return value.strip().lower()  # users are looked up by lower-cased e-mail


def _url(value):
    try:
        validate_base_url(value)
    except DjangoValidationError:
        raise ValueError("must be an http:// or https:// URL") from None
    return value


def _time_zone(value):
    try:
        ZoneInfo(value)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError; paths raise the others
        raise ValueError("unknown time zone") from None
    return value


def _aware(value):
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value  # naive means UTC


def _api_key_secret(value):
    if not keyhash.looks_like_key(value):
        raise ValueError(f"must start with {keyhash.KEY_PREFIX!r} and be 20 to 200 characters long")
    return value


MAX_INT32 = 2**31 - 1  # the database columns are 32-bit integers

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$")]  # as models.providers.name_validator
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]  # as models.tenants.slug_validator
Label = Annotated[str, Field(min_length=1, max_length=100)]
Email = Annotated[str, AfterValidator(_email)]
Count = Annotated[int, Field(ge=0, le=MAX_INT32)]
Seconds = Annotated[float, Field(gt=0)]


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _null_means_default(cls, data):
        # `teams:` with every entry commented out parses as null: read it as "not given".
        if not isinstance(data, dict):
            return data
        return {k: v for k, v in data.items() if v is not None or not _defaults_null(cls.model_fields.get(k))}


def _defaults_null(field_info):
    """True for an optional field that does not itself accept None (null then means its default)."""
    if field_info is None or field_info.is_required():
        return False
    return type(None) not in get_args(field_info.annotation)


class Limits(Spec):
    rpm: Count | None = None
    tpm: Count | None = None
    max_parallel: Count | None = None
    # When the shared counters (Redis) cannot be reached: admit (true) or answer 503 (default).
    fail_open: bool | None = None


class Timeouts(Spec):
    connect: Seconds | None = None
    first_byte: Seconds | None = None
    total: Seconds | None = None
    idle: Seconds | None = None


class SemanticCache(Spec):
    """Serve paraphrases of answered prompts (gateway/dataplane/cache/semantic.py)."""

    enabled: bool | None = None
    threshold: Annotated[float, Field(gt=0, le=1)] | None = None  # cosine similarity to count as a hit
    shadow: bool | None = None  # record would-be hits, serve none
    embedding_route: Name | None = None  # None: the local MiniLM model
    max_temperature: Annotated[float, Field(ge=0, le=2)] | None = None  # hotter requests skip it
    ttl: Count | None = None  # seconds; None: the exact cache's ttl


class Cache(Spec):
    enabled: bool | None = None
    ttl: Count | None = None
    semantic: SemanticCache | None = None


class Retry(Spec):
    """Retries within a route, then fallbacks (gateway/dataplane/resilience/failover.py)."""

    max_retries: Annotated[int, Field(ge=0, le=10)] | None = None  # default 2
    backoff_ms: Annotated[int, Field(ge=0, le=60_000)] | None = None  # default 100, doubled per retry
    max_backoff_ms: Annotated[int, Field(ge=0, le=600_000)] | None = None  # default 2000
    retry_on: list[Literal["connection", "timeout", "rate_limit", "server_error"]] | None = None  # default all
    fallback_on: list[Literal["context_window", "content_policy"]] | None = None  # default both


class Breaker(Spec):
    """Per-target circuit breaker (gateway/dataplane/resilience/store.py has the rules)."""

    enabled: bool | None = None
    failures: Annotated[int, Field(ge=0, le=10_000)] | None = None  # consecutive; default 5, 0: off
    error_rate: Annotated[float, Field(ge=0, le=1)] | None = None  # default 0.5, 0: off
    min_requests: Count | None = None  # default 20
    window_s: Seconds | None = None  # default 30
    cooldown_s: Seconds | None = None  # default 30, times the ejection count
    max_cooldown_s: Seconds | None = None  # default 300


class Canary(Spec):
    sticky: Literal["key", "user"] | None = None  # same caller, same target


def as_json(spec):
    """A nested spec as the JSON the model column holds (unset keys absent)."""
    return spec.model_dump(mode="json", exclude_none=True)


# --- the file's shape ------------------------------------------------------------------------------


class ProviderSpec(Spec):
    name: Name
    kind: ProviderKind
    base_url: Annotated[str, Field(max_length=500), AfterValidator(_url)] = ""
    # None (absent): keep the stored key; "": clear it.
    api_key: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    connect_timeout: Seconds | None = None
    first_byte_timeout: Seconds | None = None
    idle_timeout: Seconds | None = None
    enabled: bool = True


class TargetSpec(Spec):
    provider: Name
    model: Annotated[str, Field(min_length=1, max_length=200)]
    weight: Count = 1
    limits: Limits = Field(default_factory=Limits)


class RouteSpec(Spec):
    name: Name
    targets: list[TargetSpec]
    fallbacks: list[Name] = Field(default_factory=list)
    description: Annotated[str, Field(max_length=500)] = ""
    strategy: Route.Strategy = Route.Strategy.WEIGHTED
    timeouts: Timeouts = Field(default_factory=Timeouts)
    cache: Cache = Field(default_factory=Cache)
    limits: Limits = Field(default_factory=Limits)
    retry: Retry = Field(default_factory=Retry)
    breaker: Breaker = Field(default_factory=Breaker)
    canary: Canary = Field(default_factory=Canary)
    max_tokens_cap: Annotated[int, Field(ge=1, le=MAX_INT32)] | None = None
    enabled: bool = True


class TeamSpec(Spec):
    name: Label
    limits: Limits = Field(default_factory=Limits)


class UserSpec(Spec):
    email: Email
    role: Role
    # None: a new user gets no usable password; an existing one keeps theirs.
    password: Annotated[str, Field(min_length=1)] | None = None
    team: Label | None = None
    limits: Limits = Field(default_factory=Limits)


class KeySpec(Spec):
    name: Label
    owner: Email | None = None
    # None: generated on first apply and printed once; never regenerated.
    secret: Annotated[str, AfterValidator(_api_key_secret)] | None = None
    # Empty: every route the tenant can use.
    routes: list[Name] = Field(default_factory=list)
    limits: Limits = Field(default_factory=Limits)
    team: Label | None = None
    expires_at: Annotated[datetime, AfterValidator(_aware)] | None = None


class BudgetSpec(Spec):
    scope: Budget.Scope
    # As the model column: 14 digits, 6 after the point.
    amount_usd: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=6)]
    period: Budget.Period = Budget.Period.MONTHLY
    action: Budget.Action = Budget.Action.BLOCK
    team: Label | None = None
    key: Label | None = None
    user: Email | None = None
    route: Name | None = None
    downgrade_route: Name | None = None
    # None: the model's default thresholds. Percentages, up to 10x the budget.
    alert_thresholds: list[Annotated[int, Field(ge=1, le=1000)]] | None = None

    @property
    def subject(self):
        return {"team": self.team, "key": self.key, "user": self.user}.get(self.scope)


# As PriceOverride's columns: USD per million tokens (or per hour), 6 places.
PriceAmount = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=6)]


class PriceSpec(Spec):
    """A dated price override (billing.PriceOverride), keyed by route, provider, model and valid_from."""

    provider: Name
    model: Annotated[str, Field(min_length=1, max_length=200)]
    route: Name | None = None
    unit: PriceOverride.Unit = PriceOverride.Unit.TOKEN
    input_per_mtok: PriceAmount | None = None
    output_per_mtok: PriceAmount | None = None
    cached_input_per_mtok: PriceAmount | None = None
    cache_write_per_mtok: PriceAmount | None = None
    per_hour_usd: PriceAmount | None = None
    valid_from: Annotated[datetime, AfterValidator(_aware)]
    valid_to: Annotated[datetime, AfterValidator(_aware)] | None = None
    note: Annotated[str, Field(max_length=200)] = ""

    @model_validator(mode="after")
    def _consistent(self):
        tokens = (self.input_per_mtok, self.output_per_mtok)
        other = (self.cached_input_per_mtok, self.cache_write_per_mtok)
        problems = price_problems(self.unit, *tokens, self.per_hour_usd, other, self.valid_from, self.valid_to)
        if problems:
            raise ValueError("; ".join(f"{field}: {message}" for field, message in problems.items()))
        return self


class TenantSpec(Spec):
    slug: Slug
    name: Annotated[str, Field(min_length=1, max_length=200)]
    time_zone: Annotated[str, Field(max_length=64), AfterValidator(_time_zone)] = "UTC"
    limits: Limits = Field(default_factory=Limits)
    teams: list[TeamSpec] = Field(default_factory=list)
    providers: list[ProviderSpec] = Field(default_factory=list)
    routes: list[RouteSpec] = Field(default_factory=list)
    users: list[UserSpec] = Field(default_factory=list)
    keys: list[KeySpec] = Field(default_factory=list)
    budgets: list[BudgetSpec] = Field(default_factory=list)
    prices: list[PriceSpec] = Field(default_factory=list)  # this tenant's price overrides


class ConfigFile(Spec):
    providers: list[ProviderSpec] = Field(default_factory=list)
    routes: list[RouteSpec] = Field(default_factory=list)
    prices: list[PriceSpec] = Field(default_factory=list)  # shared price overrides
    tenants: list[TenantSpec] = Field(default_factory=list)
