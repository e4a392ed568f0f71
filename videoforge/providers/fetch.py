"""A careful HTTP downloader for image sources: allow-listed hosts, public addresses only.

Every request, and every redirect hop, is checked before any byte is sent: the scheme, the
host (an exact allow list), and every address the host resolves to. The connection then goes
to the address that was checked, never to the name again, so a DNS answer that changes
between the check and the connect (rebinding) cannot steer the request somewhere else.
Bodies are capped while they stream, and images are decoded with Pillow before anyone uses
them.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import json
import logging
import os
import socket
import ssl
import tempfile
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from PIL import Image, ImageOps, UnidentifiedImageError

from ..core.errors import ProviderError

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
MAX_IMAGE_BYTES = 15 * MiB  # the largest picture file any source reads
MAX_PIXELS = 40_000_000  # the largest canvas any source decodes (a guard against bombs)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., list[tuple[Any, ...]]]

# Pillow decoders we accept. Fewer formats, fewer parsers exposed to downloaded bytes; EPS in
# particular would run Ghostscript.
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP")

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024

# Addresses that are never a public web server, whatever ipaddress's flags say on this Python.
_BLOCKED_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",  # "this network", including 0.0.0.0
        "10.0.0.0/8",
        "100.64.0.0/10",  # shared address space (carrier-grade NAT)
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata services
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, including 255.255.255.255
    )
)
_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
_NAT64_V6 = ipaddress.IPv6Network("64:ff9b::/96")  # well-known prefix, embeds an IPv4 address
_SIX_TO_FOUR_V6 = ipaddress.IPv6Network("2002::/16")  # embeds an IPv4 address
_BLOCKED_V6 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "2001::/23",  # IETF protocol assignments, including Teredo 2001::/32
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
    )
)


class FetchError(ProviderError):
    """A download was refused or failed; the message says which rule or what broke."""

    def __init__(self, detail: str, *, status: int | None = None):
        super().__init__("fetch", detail)
        self.status = status


@dataclass(frozen=True)
class FetchResult:
    """A finished download: the final URL after redirects, its status, type and body."""

    url: str
    status: int
    content_type: str
    body: bytes


def is_public_address(address: IPAddress) -> bool:
    """Return whether an address belongs to the public internet and may be fetched from.

    Refused: private, loopback, link-local (169.254/16, fe80::/10), multicast, reserved,
    unspecified, shared 100.64/10, documentation and benchmarking ranges, IPv6 site-local and
    unique-local, and any IPv4 address wrapped in IPv6 (mapped, compatible, NAT64 64:ff9b::/96,
    6to4) whose embedded address is refused. IPv6 must otherwise be global unicast (2000::/3).
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public_address(address.ipv4_mapped)
        if address in _NAT64_V6:
            return is_public_address(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.sixtofour is not None:
            return is_public_address(address.sixtofour)
        if address not in _GLOBAL_UNICAST_V6 or any(address in n for n in _BLOCKED_V6):
            return False
        return not (
            address.is_private
            or address.is_loopback
            or address.is_link_local
            or address.is_site_local
            or address.is_multicast
            or address.is_reserved
            or address.is_unspecified
        )
    if any(address in n for n in _BLOCKED_V4):
        return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


class SafeFetcher:
    """Download over HTTP(S) from allow-listed hosts whose addresses pass a policy.

    ``resolver`` has the signature of ``socket.getaddrinfo``; ``address_allowed`` decides on
    each resolved address (default: public internet only). Tests pass a resolver that maps
    test names to 127.0.0.1 and a policy that admits exactly that address.
    """

    def __init__(
        self,
        allowed_hosts: Collection[str],
        *,
        max_bytes: int = MAX_IMAGE_BYTES,
        timeout: float = 15,
        total_timeout: float = 60,
        max_redirects: int = 4,
        resolver: Resolver = socket.getaddrinfo,
        address_allowed: Callable[[IPAddress], bool] = is_public_address,
        schemes: Collection[str] = ("https",),
        ssl_context: ssl.SSLContext | None = None,
        user_agent: str = "videoforge/0.1",
    ):
        self.allowed_hosts = frozenset(h.strip().lower() for h in allowed_hosts)
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.total_timeout = total_timeout
        self.max_redirects = max_redirects
        self.resolver = resolver
        self.address_allowed = address_allowed
        self.schemes = frozenset(s.lower() for s in schemes)
        # Built here rather than per request: loading the CA store is not free.
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.user_agent = user_agent

    # --- public ---------------------------------------------------------------------------

    def get(self, url: str, *, headers: Mapping[str, str] | None = None) -> FetchResult:
        """Fetch url with GET, following checked redirects, and return the 2xx response.

        ``headers`` go to the first host only: a redirect to another scheme, host or port
        drops them, so an API key never leaves the service it was meant for.
        """
        deadline = time.monotonic() + self.total_timeout
        extra = dict(headers or {})
        current = url
        origin = self._origin(url)
        for hop in range(self.max_redirects + 1):
            send = extra if self._origin(current) == origin else {}
            status, response_headers, body = self._request(current, send, deadline)
            if status in _REDIRECTS:
                location = response_headers.get("location")
                if not location:
                    raise FetchError(
                        f"{status} redirect without a Location from {_safe_url(current)}"
                    )
                current = urljoin(current, location)
                logger.debug("redirect %s: %s -> %s", hop + 1, _safe_url(url), _safe_url(current))
                continue
            if not 200 <= status < 300:
                raise FetchError(f"HTTP {status} from {_safe_url(current)}", status=status)
            content_type = response_headers.get("content-type", "")
            return FetchResult(current, status, content_type, body)
        raise FetchError(
            f"more than {self.max_redirects} redirects starting at {_safe_url(url)}; "
            "refusing to follow further"
        )

    def get_json(self, url: str, *, headers: Mapping[str, str] | None = None) -> object:
        """Fetch url and return its body parsed as JSON."""
        result = self.get(url, headers={"Accept": "application/json", **(headers or {})})
        try:
            return json.loads(result.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise FetchError(f"{_safe_url(result.url)} did not return JSON: {exc}") from None

    def get_image(
        self,
        url: str,
        out: Path,
        *,
        max_pixels: int = MAX_PIXELS,
        headers: Mapping[str, str] | None = None,
    ) -> Path:
        """Fetch url, check that it decodes as an image, and save it to out as an RGB PNG."""
        result = self.get(url, headers={"Accept": "image/*", **(headers or {})})
        return save_image(result.body, out, max_pixels=max_pixels, origin=_safe_url(result.url))

    # --- checks and the request -----------------------------------------------------------

    @staticmethod
    def _origin(url: str) -> tuple[str, str, int | None]:
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = None
        return parts.scheme.lower(), (parts.hostname or "").lower(), port

    def _check_url(self, url: str) -> tuple[str, str, int, str]:
        """Return (scheme, host, port, path) of an acceptable URL, or raise FetchError."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise FetchError(f"malformed URL: {exc}") from None
        scheme = parts.scheme.lower()
        if scheme not in self.schemes:
            allowed = ", ".join(sorted(self.schemes))
            raise FetchError(f"scheme {scheme or '(none)'!r} is not allowed (only {allowed})")
        if "@" in parts.netloc:
            raise FetchError("URLs with user information (user@host) are not allowed")
        host = (parts.hostname or "").lower()
        if not host:
            raise FetchError("URL has no host")
        if host not in self.allowed_hosts:
            raise FetchError(
                f"host {host!r} is not in the allowed hosts; add it to the source's host list "
                "if it should be fetched from"
            )
        if port is None:
            port = 443 if scheme == "https" else 80
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return scheme, host, port, path

    def _addresses(self, host: str, port: int) -> list[IPAddress]:
        """Resolve host once and return its addresses, all of which passed the policy."""
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            found: list[IPAddress] = [literal]
        else:
            try:
                infos = self.resolver(host, port, 0, socket.SOCK_STREAM)
            except (OSError, UnicodeError) as exc:
                raise FetchError(f"cannot resolve {host!r}: {exc}") from None
            found = []
            for info in infos:
                text = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone id
                try:
                    address = ipaddress.ip_address(text)
                except ValueError:
                    raise FetchError(f"{host!r} resolved to a non-address {text!r}") from None
                if address not in found:
                    found.append(address)
        if not found:
            raise FetchError(f"{host!r} resolved to no addresses")
        refused = [str(a) for a in found if not self.address_allowed(a)]
        if refused:
            raise FetchError(
                f"{host!r} resolves to a non-public address ({', '.join(refused)}); refused"
            )
        return found

    def _connect(
        self, scheme: str, host: str, port: int, addresses: list[IPAddress], deadline: float
    ) -> socket.socket:
        """Open a socket to the first checked address that answers, TLS-wrapped for https."""
        last: OSError | None = None
        for address in addresses:
            try:
                sock = socket.create_connection(
                    (str(address), port), timeout=self._remaining(deadline)
                )
            except OSError as exc:
                last = exc
                continue
            if scheme != "https":
                return sock
            try:
                return self.ssl_context.wrap_socket(sock, server_hostname=host)
            except (OSError, ssl.SSLError) as exc:
                sock.close()
                raise FetchError(f"TLS with {host} ({address}) failed: {exc}") from None
        raise FetchError(f"cannot connect to {host}:{port}: {last}")

    def _remaining(self, deadline: float) -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise FetchError(f"download took longer than {self.total_timeout} s; gave up")
        return min(self.timeout, left)

    def _request(
        self, url: str, headers: Mapping[str, str], deadline: float
    ) -> tuple[int, dict[str, str], bytes]:
        """Send one checked GET and return (status, lower-cased headers, capped body)."""
        scheme, host, port, path = self._check_url(url)
        addresses = self._addresses(host, port)
        sock = self._connect(scheme, host, port, addresses, deadline)
        # The connection object only formats the request; it uses the socket we opened to
        # the checked address, and its host gives the Host header.
        conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
        conn.sock = sock
        default_port = 443 if scheme == "https" else 80
        host_header = f"[{host}]" if ":" in host else host
        if port != default_port:
            host_header += f":{port}"
        try:
            conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
            sent = {"user-agent": ("User-Agent", self.user_agent)}
            sent.update({k.lower(): (k, v) for k, v in headers.items()})
            # Always the checked host, and no compression we would have to undo.
            sent["host"] = ("Host", host_header)
            sent["accept-encoding"] = ("Accept-Encoding", "identity")
            for name, value in sent.values():
                conn.putheader(name, value)
            conn.endheaders()
            sock.settimeout(self._remaining(deadline))
            response = conn.getresponse()
            status = response.status
            response_headers = {k.lower(): v for k, v in response.getheaders()}
            if status in _REDIRECTS:
                return status, response_headers, b""
            body = self._read_body(response, sock, url, deadline)
            return status, response_headers, body
        except (http.client.HTTPException, OSError, ValueError) as exc:
            if isinstance(exc, TimeoutError):
                if time.monotonic() >= deadline - 0.05:
                    raise FetchError(
                        f"download of {_safe_url(url)} took longer than {self.total_timeout} s; "
                        "gave up"
                    ) from None
                raise FetchError(
                    f"timed out reading from {_safe_url(url)} (nothing for {self.timeout} s)"
                ) from None
            raise FetchError(f"request to {_safe_url(url)} failed: {exc}") from None
        finally:
            conn.close()

    def _read_body(
        self, response: http.client.HTTPResponse, sock: socket.socket, url: str, deadline: float
    ) -> bytes:
        length = response.getheader("content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                raise FetchError(f"bad Content-Length {length!r} from {_safe_url(url)}") from None
            if declared > self.max_bytes:
                raise FetchError(
                    f"{_safe_url(url)} is {declared} bytes, over the {self.max_bytes}-byte limit"
                )
        body = bytearray()
        while not response.isclosed():  # it closes itself once Content-Length bytes arrived
            sock.settimeout(self._remaining(deadline))
            chunk = response.read1(_CHUNK)  # one recv at most, so the deadline is checked often
            if not chunk:
                break
            body += chunk
            if len(body) > self.max_bytes:
                raise FetchError(
                    f"{_safe_url(url)} sent more than the {self.max_bytes}-byte limit; stopped"
                )
        return bytes(body)


def save_image(data: bytes, out: Path, *, max_pixels: int, origin: str = "image") -> Path:
    """Decode image bytes with Pillow, refusing non-images and bombs, and write an RGB PNG.

    The image is opened and ``verify()``-ed, then opened again and fully loaded, since a
    verified image can still fail to decode. The pixel count is checked from the header
    before any decoding, so a small file declaring a huge canvas is refused cheaply.
    Transparent areas are laid on white; EXIF orientation is applied. The PNG is written
    to a temporary name beside out and renamed into place.
    """
    try:
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as probe:
            _check_pixels(probe, max_pixels, origin)
            probe.verify()
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
            _check_pixels(image, max_pixels, origin)
            image.load()
            image = ImageOps.exif_transpose(image)
            rgb = _to_rgb(image)
    except FetchError:
        raise
    except Image.DecompressionBombError as exc:
        raise FetchError(f"{origin} is a decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        allowed = ", ".join(IMAGE_FORMATS)
        raise FetchError(f"{origin} is not an image in a supported format ({allowed})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow reports corrupt or truncated data with any of these.
        raise FetchError(f"{origin} is a damaged image: {exc}") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".part-", suffix=".png", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            rgb.save(fh, "PNG")
        os.replace(tmp_name, out)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return out


def _check_pixels(image: Image.Image, max_pixels: int, origin: str) -> None:
    width, height = image.size
    if width <= 0 or height <= 0:
        raise FetchError(f"{origin} has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise FetchError(
            f"{origin} declares {width}x{height} pixels, over the {max_pixels}-pixel limit "
            "(possible decompression bomb); refused"
        )


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image.copy()
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if not has_alpha:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _safe_url(url: str) -> str:
    """Return url without its query string, which may carry keys, for messages and logs."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
