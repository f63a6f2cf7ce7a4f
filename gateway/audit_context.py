"""Who is making the current control-plane change, for the audit log."""
import contextvars
from contextlib import contextmanager

_actor = contextvars.ContextVar("switchyard_audit_actor", default=(None, "system"))


def current_actor():
    """(user or None, label)."""
    return _actor.get()


@contextmanager
def acting_as(user=None, label=None):
    token = _actor.set((user, label or (user.email if user is not None else "system")))
    try:
        yield
    finally:
        _actor.reset(token)


def set_actor(user, label=None):
    """Set for the rest of this context (used by DRF authentication)."""
    _actor.set((user, label or user.email))


class AuditActorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # A copied context: whatever the view sets (e.g. DRF's key user) ends with the request.
        return contextvars.copy_context().run(self._handle, request)

    def _handle(self, request):
        user = getattr(request, "user", None)
        _actor.set((user, user.email) if user is not None and user.is_authenticated else (None, "anonymous"))
        return self.get_response(request)
