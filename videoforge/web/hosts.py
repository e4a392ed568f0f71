"""The Host allow-list: a request must name this service, which stops DNS rebinding."""

from __future__ import annotations

import ipaddress

import falcon

from ..core.errors import InvalidRequest
from ..core.settings import Settings

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARD_BINDS = ("0.0.0.0", "::")


def allowed_hosts(settings: Settings) -> frozenset[str] | None:
    """Return the host names a request may carry, lower-cased; None means any.

    VIDEOFORGE_ALLOWED_HOSTS when set (``*`` for any); otherwise the loopback names and the
    bound HOST when it names one address rather than every address (0.0.0.0, ::).
    """
    if settings.allowed_hosts:
        if "*" in settings.allowed_hosts:
            return None
        return frozenset(_normal(name) for name in settings.allowed_hosts)
    names = set(LOOPBACK_NAMES)
    host = _normal(settings.host)
    if host and host not in WILDCARD_BINDS:
        names.add(host)
    return frozenset(names)


def is_loopback(host: str) -> bool:
    """Say whether a bind address reaches only this machine (127.x, ::1, localhost)."""
    name = _normal(host)
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:  # another host name
        return False


def unsafe_bind(settings: Settings) -> list[str]:
    """Return why serving on settings.host would be unsafe, one line per reason (none: safe).

    A non-loopback bind needs the API token unless the service is declared open
    (VIDEOFORGE_PUBLIC); a bind to every address needs the names clients use, which the
    Host check cannot guess.
    """
    reasons = []
    if not is_loopback(settings.host) and not settings.api_token and not settings.public:
        reasons.append(
            f"refusing to serve on {settings.host} without an API token: set"
            " VIDEOFORGE_API_TOKEN, or VIDEOFORGE_PUBLIC=1 for a deliberately open service"
        )
    if _normal(settings.host) in WILDCARD_BINDS and not settings.allowed_hosts:
        reasons.append(
            f"refusing to serve on every address ({settings.host}) without"
            " VIDEOFORGE_ALLOWED_HOSTS: set it to the names clients use to reach this service"
            " (comma-separated), or * for any"
        )
    return reasons


def host_name(header: str) -> str:
    """Return the host part of a Host header, lower-cased, without the port or IPv6 brackets."""
    value = header.strip()
    if value.startswith("["):  # an IPv6 literal: [::1] or [::1]:8000
        inside, bracket, _rest = value[1:].partition("]")
        return _normal(inside) if bracket else ""
    if value.count(":") > 1:  # an IPv6 literal without brackets (not valid, but unambiguous)
        return _normal(value)
    return _normal(value.partition(":")[0])


def _normal(name: str) -> str:
    name = name.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    return name.removesuffix(".")  # "localhost." is localhost


class HostCheck:
    """Refuse (400) a request whose Host header is not on the allow-list."""

    def __init__(self, allowed: frozenset[str]):
        self.allowed = allowed

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Check the Host header before anything else looks at the request."""
        header = req.get_header("Host") or ""
        if not header.strip():
            raise InvalidRequest(
                "the request has no Host header; send the service's name in it"
                " (the names it answers to are set by VIDEOFORGE_ALLOWED_HOSTS)"
            )
        name = host_name(header)
        if name not in self.allowed:
            raise InvalidRequest(
                f"this service does not answer to the host {name[:100]!r}; if it should,"
                " add that name to VIDEOFORGE_ALLOWED_HOSTS"
            )
