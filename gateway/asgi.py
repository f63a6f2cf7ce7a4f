"""ASGI entry point.

HTTP requests for the data-plane paths (/v1/, /anthropic/, and the two roots without
their slash) go to a plain ASGI app that bypasses Django's request stack; everything
else is Django. A prefix test, not Channels' URLRouter: the router's regex match and
scope copy cost more per request than the rest of the dispatch (measured under `make bench`).
The lifespan protocol starts and stops the data plane's per-process runtime.
"""
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from gateway.console.consumers import TailConsumer  # noqa: E402
from gateway.dataplane.app import dataplane_app, lifespan_app  # noqa: E402

DATAPLANE_PREFIXES = ("/v1/", "/anthropic/")
DATAPLANE_ROOTS = frozenset({"/v1", "/anthropic"})  # the base URLs without their slash, which clients probe


async def http_app(scope, receive, send):
    path = scope["path"]
    if path.startswith(DATAPLANE_PREFIXES) or path in DATAPLANE_ROOTS:
        await dataplane_app(scope, receive, send)
    else:
        await django_asgi_app(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": http_app,
        # The console's live request tail: session auth, and only from our own origins.
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter([path("console/ws/tail/", TailConsumer.as_asgi())]))
        ),
        "lifespan": lifespan_app,
    }
)
