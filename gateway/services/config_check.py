"""apply_config's checks: names a file refers to exist, secrets and passwords do not clash,
provider addresses pass the SSRF guard.

Run before anything is written, so a wrong file changes nothing and every problem is
reported at once (ConfigError lists them with their place in the file). What is not wrong
but worth knowing (a base URL that does not resolve here) comes back as warnings.
"""
from dataclasses import dataclass, field

from billing.models import Budget
from billing.prices.config import prices_check
from gateway import keyhash
from gateway.dataplane.netguard import HOW_TO_ALLOW, BlockedAddress
from gateway.models import ApiKey, Membership, Provider, ProviderKind, Route, Team
from gateway.models.providers import DEFAULT_BASE_URLS, base_url_address_problem
from gateway.services.config_schema import ConfigError


@dataclass
class Known:
    """Names a file may refer to: those it defines plus those already in the database."""

    providers: set = field(default_factory=set)
    routes: set = field(default_factory=set)
    teams: set = field(default_factory=set)
    members: set = field(default_factory=set)
    keys: set = field(default_factory=set)


def config_check(config, source):
    """Raises ConfigError listing every problem; returns [(place, warning)]."""
    problems, warnings = [], []
    shared = Known(
        providers=_names(config.providers) | _stored(Provider, tenant=None),
        routes=_names(config.routes) | _stored(Route, tenant=None),
    )
    _check_unique(problems, "providers", config.providers, "name")
    _check_unique(problems, "routes", config.routes, "name")
    _check_unique(problems, "tenants", config.tenants, "slug")
    _check_routes(problems, "routes", config.routes, shared)
    for i, spec in enumerate(config.tenants):
        _check_tenant(problems, f"tenants[{i}]", spec, _known_for(spec, shared))
    _check_secrets(problems, config)
    _check_passwords(problems, config)
    prices_check(problems, config)
    _check_addresses(problems, warnings, "providers", config.providers)
    for i, spec in enumerate(config.tenants):
        _check_addresses(problems, warnings, f"tenants[{i}].providers", spec.providers)
    if problems:
        raise ConfigError(source, problems)
    return warnings


def _names(items, attr="name"):
    return {getattr(item, attr) for item in items}


def _stored(model, field_name="name", **filters):
    return set(model.objects.filter(**filters).values_list(field_name, flat=True))


def _known_for(spec, shared):
    slug = spec.slug
    return Known(
        providers=shared.providers | _names(spec.providers) | _stored(Provider, tenant__slug=slug),
        routes=shared.routes | _names(spec.routes) | _stored(Route, tenant__slug=slug),
        teams=_names(spec.teams) | _stored(Team, tenant__slug=slug),
        members=_names(spec.users, "email") | _stored(Membership, "user__email", tenant__slug=slug),
        keys=_names(spec.keys) | _stored(ApiKey, tenant__slug=slug, revoked_at__isnull=True),
    )


def _check_addresses(problems, warnings, at, providers):
    """The save-time SSRF check of each base URL (the kind's default when empty), as the API's."""
    for i, spec in enumerate(providers):
        if spec.kind == ProviderKind.MOCK:
            continue
        url = spec.base_url or DEFAULT_BASE_URLS.get(spec.kind, "")
        problem = base_url_address_problem(url)
        if isinstance(problem, BlockedAddress):
            problems.append((f"{at}[{i}].base_url", str(problem)))
        elif problem is not None:
            warnings.append((f"{at}[{i}].base_url", f"{problem}: checked again at connect time "
                             f"(a private address is refused then; {HOW_TO_ALLOW})"))


def _check_unique(problems, at, items, attr):
    first = {}
    for i, item in enumerate(items):
        value = getattr(item, attr)
        if value in first:
            problems.append((f"{at}[{i}].{attr}", f"duplicate {attr} {value!r} (first at {at}[{first[value]}])"))
        first.setdefault(value, i)


def _check_ref(problems, where, name, known, what):
    if name is not None and name not in known:
        problems.append((where, f"unknown {what} {name!r}"))


def _check_routes(problems, at, routes, known):
    for i, route in enumerate(routes):
        for j, target in enumerate(route.targets):
            _check_ref(problems, f"{at}[{i}].targets[{j}].provider", target.provider, known.providers, "provider")
        for j, name in enumerate(route.fallbacks):
            where = f"{at}[{i}].fallbacks[{j}]"
            if name == route.name:
                problems.append((where, "a route cannot fall back to itself"))
            elif name in route.fallbacks[:j]:
                problems.append((where, f"fallback {name!r} is listed twice"))
            else:
                _check_ref(problems, where, name, known.routes, "route")


def _check_tenant(problems, at, spec, known):
    for section, attr in (("teams", "name"), ("providers", "name"), ("routes", "name"), ("users", "email")):
        _check_unique(problems, f"{at}.{section}", getattr(spec, section), attr)
    _check_unique(problems, f"{at}.keys", spec.keys, "name")
    _check_routes(problems, f"{at}.routes", spec.routes, known)
    for i, user in enumerate(spec.users):
        _check_ref(problems, f"{at}.users[{i}].team", user.team, known.teams, "team")
    for i, key in enumerate(spec.keys):
        if key.owner is not None and key.owner not in known.members:
            problems.append((f"{at}.keys[{i}].owner", f"{key.owner} is not a user of tenant {spec.slug}"))
        _check_ref(problems, f"{at}.keys[{i}].team", key.team, known.teams, "team")
        for j, name in enumerate(key.routes):
            _check_ref(problems, f"{at}.keys[{i}].routes[{j}]", name, known.routes, "route")
    seen = {}
    for i, budget in enumerate(spec.budgets):
        _check_budget(problems, f"{at}.budgets[{i}]", budget, known, seen)


# A budget's scope names the one subject field it needs, and where that subject's names come from.
BUDGET_SUBJECTS = {"team": "teams", "key": "keys", "user": "members"}


def _check_budget(problems, at, budget, known, seen):
    for scope, pool in BUDGET_SUBJECTS.items():
        value = getattr(budget, scope)
        if budget.scope == scope and value is None:
            problems.append((f"{at}.{scope}", f"required when scope is {scope}"))
        elif budget.scope != scope and value is not None:
            problems.append((f"{at}.{scope}", f"only allowed when scope is {scope}"))
        else:
            _check_ref(problems, f"{at}.{scope}", value, getattr(known, pool), scope)
    _check_ref(problems, f"{at}.route", budget.route, known.routes, "route")
    _check_ref(problems, f"{at}.downgrade_route", budget.downgrade_route, known.routes, "route")
    if budget.action == Budget.Action.DOWNGRADE and budget.downgrade_route is None:
        problems.append((f"{at}.downgrade_route", "required when action is downgrade"))
    natural_key = (budget.scope, budget.subject, budget.period, budget.route)
    if natural_key in seen:
        problems.append((at, f"same scope, subject, period and route as {seen[natural_key]}"))
    seen.setdefault(natural_key, at)


def _check_secrets(problems, config):
    """A secret may belong to one live key only (the hash column is unique)."""
    wanted = {}  # hash -> (path, tenant slug, key name)
    for i, tenant in enumerate(config.tenants):
        for j, key in enumerate(tenant.keys):
            if key.secret is None:
                continue
            where, digest = f"tenants[{i}].keys[{j}].secret", keyhash.hash_secret(key.secret)
            if digest in wanted:
                problems.append((where, f"same secret as {wanted[digest][0]}"))
            wanted.setdefault(digest, (where, tenant.slug, key.name))
    stored = ApiKey.objects.filter(secret_hash__in=wanted).values_list("secret_hash", "tenant__slug", "name",
                                                                       "revoked_at")
    for digest, slug, name, revoked_at in stored:
        where, *owner = wanted[digest]
        if [slug, name, revoked_at] != [*owner, None]:
            problems.append((where, "already the secret of another key"))


def _check_passwords(problems, config):
    """Users are global: one e-mail listed in two tenants cannot have two passwords."""
    first = {}
    for i, tenant in enumerate(config.tenants):
        for j, user in enumerate(tenant.users):
            if user.password is None:
                continue
            where = f"tenants[{i}].users[{j}].password"
            earlier, password = first.setdefault(user.email, (where, user.password))
            if password != user.password:
                problems.append((where, f"differs from {earlier} (the same user)"))
