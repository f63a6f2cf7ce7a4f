"""Navigation entries the current role may open (hidden links are also refused by the views)."""
from gateway.console.tenancy import ADMINS, AUDIT_READERS, KEY_WRITERS, MONEY_WRITERS

ALL = None
NAV = [
    ("console:dashboard", "Dashboard", ALL),
    ("console:logs", "Request log", ALL),
    ("console:costs", "Costs", MONEY_WRITERS),
    ("console:providers", "Providers", ALL),
    ("console:routes", "Routes", ALL),
    ("console:keys", "Keys", ALL),
    ("console:members", "Members", ALL),
    ("console:teams", "Teams", ALL),
    ("console:budgets", "Budgets", ALL),
    ("console:prices", "Prices", ALL),
    ("console:audit", "Audit log", AUDIT_READERS),
    ("console:tenant", "Tenant", ALL),
]


def nav_context(request):
    ctx = getattr(request, "console", None)
    if ctx is None:
        return {}
    nav = [(name, label) for name, label, roles in NAV if roles is None or ctx.can(roles)]
    return {
        "console": ctx,
        "nav": nav,
        "is_admin": ctx.can(ADMINS),
        "can_keys": ctx.can(KEY_WRITERS),
        "can_money": ctx.can(MONEY_WRITERS),
    }
