"""The API token: a Bearer header everywhere, ``?token=`` only where a header cannot be sent."""

from __future__ import annotations

import hmac

import falcon

from ..core.errors import Unauthorized

OPEN_PATHS = ("/", "/health", "/index.html")
# Browsers load these with EventSource, <video src> and <track src>, which cannot send headers.
QUERY_TOKEN_PREFIXES = ("/api/progress/", "/api/video/", "/api/captions/")


# ... and <video src>, <video poster> and <img src> these of /api/generations/{id}/.
QUERY_TOKEN_GENERATION_FILES = ("video", "poster.jpg")


def takes_query_token(path: str) -> bool:
    """Say whether a path may carry the token as ?token= (stream, videos, captions, poster, slide images)."""
    if path.startswith(QUERY_TOKEN_PREFIXES):
        return True
    parts = path.split("/")  # ["", "api", "generations", id, ...]
    if len(parts) < 5 or parts[1:3] != ["api", "generations"]:
        return False
    if len(parts) == 5:
        return parts[4] in QUERY_TOKEN_GENERATION_FILES
    return len(parts) == 6 and parts[4] == "slides" and parts[5].endswith(".png")


def bearer_token(req: falcon.Request) -> str:
    """Return the token of an ``Authorization: Bearer`` header, or ''."""
    scheme, _, value = (req.get_header("Authorization") or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def token_matches(supplied: str, token: str) -> bool:
    """Compare a supplied token with the configured one in constant time."""
    return bool(token) and hmac.compare_digest(supplied.encode(), token.encode())


class TokenAuth:
    """Require the API token when one is configured; refuse it in the query string elsewhere."""

    def __init__(self, token: str):
        self.token = token

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Let the request through only with the token, sent the way this path allows."""
        if req.method == "OPTIONS":
            return
        query_token = req.get_param("token")
        if query_token is not None and not takes_query_token(req.path):
            # A URL ends up in proxy and browser logs; only EventSource and media need it.
            raise Unauthorized(
                "send the API token as 'Authorization: Bearer <token>'; ?token= is accepted"
                " only by the progress stream, the videos, the captions, the poster and the"
                " slide images"
            )
        if req.path in OPEN_PATHS or req.path.startswith("/static/"):
            return
        supplied = bearer_token(req) or (query_token or "")
        if not token_matches(supplied, self.token):
            raise Unauthorized(
                "this service needs its API token: send 'Authorization: Bearer <token>'"
                " (or ?token=<token> on the progress stream, videos, captions, poster and"
                " slide images)"
            )
