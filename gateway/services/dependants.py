"""What stops a delete: the objects that still depend on it (on_delete=PROTECT or RESTRICT).

The REST API answers 409 with them and the console shows them, instead of the 500 a raw
`ProtectedError` becomes. Link rows (a route's target) are named by the object a user
edits to remove the link (the route), so "remove it from route X" is actionable.
"""
from django.db.models import ProtectedError, RestrictedError

MAX_NAMED = 20  # dependants listed by name; a provider behind hundreds of routes still gets a short answer

# Link models named by their owner: model label -> attribute of the owning object.
NAMED_BY_OWNER = {"gateway.RouteTarget": "route", "billing.RatingAdjustment": "run"}

BLOCKING_ERRORS = (ProtectedError, RestrictedError)


def dependants_of(error):
    """(dependants, total): up to MAX_NAMED {"type", "id", "name"}, sorted, and how many there are."""
    objects = error.protected_objects if isinstance(error, ProtectedError) else error.restricted_objects
    named = {_describe(obj) for obj in objects}
    rows = sorted(named, key=lambda row: (row[0], str(row[2])))
    return [{"type": t, "id": pk, "name": name} for t, pk, name in rows[:MAX_NAMED]], len(rows)


def dependants_message(dependants, total):
    """One sentence naming what to change first, e.g. 'still used by route "chat" (id 4)'."""
    names = ", ".join(f'{d["type"]} "{d["name"]}" (id {d["id"]})' for d in dependants)
    more = f" and {total - len(dependants)} more" if total > len(dependants) else ""
    return f"still used by {names}{more}: change or delete them first"


def _describe(obj):
    owner = NAMED_BY_OWNER.get(obj._meta.label)
    if owner is not None:
        obj = getattr(obj, owner)
    return str(obj._meta.verbose_name), obj.pk, str(obj)
