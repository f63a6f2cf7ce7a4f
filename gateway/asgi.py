"""ASGI entry point.

Channels' router sends the data-plane paths (/v1/, /anthropic/) to a plain
ASGI app that bypasses Django's request stack; everything else is Django.
The lifespan protocol starts and stops the data plane's per-process runtime.
"""
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path, re_path  # noqa: E402

from gateway.console.consumers import TailConsumer  # noqa: E402
from gateway.dataplane.app import dataplane_app, lifespan_app  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": URLRouter(
            [
                re_path(r"^v1/", dataplane_app),
                re_path(r"^anthropic/", dataplane_app),
                re_path(r"", django_asgi_app),
            ]
        ),
        # The console's live request tail: session auth, and only from our own origins.
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter([path("console/ws/tail/", TailConsumer.as_asgi())]))
        ),
        "lifespan": lifespan_app,
    }
)
