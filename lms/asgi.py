"""The ASGI router: HTTP goes to Django, websockets through origin checks and session auth."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lms.settings")
django_asgi_app = get_asgi_application()

from channels.auth import CookieMiddleware, SessionMiddleware  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from lms.db_async import ParallelAuthMiddleware  # noqa: E402
from lms.log_context import SocketLogContext  # noqa: E402
from lms.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Channels' AuthMiddlewareStack, its user lookup on the database thread pool (lms/db_async.py).
        "websocket": SocketLogContext(
            AllowedHostsOriginValidator(
                CookieMiddleware(SessionMiddleware(ParallelAuthMiddleware(URLRouter(websocket_urlpatterns))))
            )
        ),
    }
)
