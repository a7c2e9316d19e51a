"""What every HTTP and websocket request to the app must pass, whatever page it is for.

- **Host.** Only the names the app is reached by: loopback names, SHARPNOTES_APP_HOST and
  SHARPNOTES_APP_ALLOWED_HOSTS. A web page whose name an attacker re-points at 127.0.0.1 (DNS
  rebinding) sends its own name in the Host header and is refused, so it can neither read the app
  nor drive it over the websocket. Streamlit's ``server.allowedHosts`` checks the websocket only;
  Starlette's ``TrustedHostMiddleware`` (added in ``asgi.py``) checks every request.
- **Content-Security-Policy.** Images and media only from the app itself (and ``data:``/``blob:``),
  so nothing a note holds makes the browser fetch from another host when it is shown; the pages
  show an image as a link that the user opens on purpose (``render.note_parts``).
"""

from __future__ import annotations

import ipaddress
import socket

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sharpnotes.ingest.settings import Settings

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
CONTENT_POLICY = "img-src 'self' data: blob:; media-src 'self' data: blob:; object-src 'none'"


def allowed_hosts(settings: Settings) -> list[str]:
    """Host names the app answers to. Served on every interface (0.0.0.0, ::), it answers to
    this machine's own names too; other names (a LAN address, a DNS name) must be listed in
    SHARPNOTES_APP_ALLOWED_HOSTS."""
    hosts = list(LOOPBACK_NAMES)
    host = settings.app.app_host.strip("[]")
    if _wildcard(host):
        hosts += [socket.gethostname(), socket.getfqdn()]
    else:
        hosts.append(host)
    hosts += [h.strip() for h in settings.app.app_allowed_hosts.split(",") if h.strip()]
    return list(dict.fromkeys(h.lower() for h in hosts))


def host_patterns(hosts: list[str]) -> list[str]:
    """``allowed_hosts`` as Starlette matches the Host header: an IPv6 address in brackets."""
    return [f"[{h}]" if ":" in h else h for h in hosts]


def _wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


class ContentPolicy:
    """ASGI middleware: the ``Content-Security-Policy`` header on every HTTP response."""

    def __init__(self, app: ASGIApp, policy: str = CONTENT_POLICY) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("Content-Security-Policy", self.policy)
            await send(message)

        await self.app(scope, receive, send_with_policy)
