"""Image sources and the safe downloader, against local HTTP servers only.

Every fetcher here uses a resolver that maps test names (and the real API names) to fixed
addresses and a policy admitting exactly 127.0.0.1, so no test can reach the network: a name
the resolver does not know fails, and any address other than 127.0.0.1 is refused.
"""

from __future__ import annotations

import io
import ipaddress
import json
import logging
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image

from videoforge.core.errors import ProviderError
from videoforge.core.types import FoundImage, Size
from videoforge.providers.fetch import FetchError, SafeFetcher, is_public_address
from videoforge.providers.images.finder import ImageFinder
from videoforge.providers.images.library import LocalLibrary, match_words
from videoforge.providers.images.openverse import OPENVERSE_HOSTS, Openverse, cc_license_name
from videoforge.providers.images.pexels import PEXELS_HOSTS, Pexels
from videoforge.providers.images.unsplash import UNSPLASH_HOSTS, Unsplash
from videoforge.providers.images.wikimedia import WIKIMEDIA_HOSTS, WikimediaCommons, strip_html

SIZE = Size(1280, 720)
LOOPBACK = ipaddress.ip_address("127.0.0.1")

# Names the test resolver knows. Everything maps to the local server except the hostile ones.
ADDRESSES = {
    "images.test": ["127.0.0.1"],
    "other-images.test": ["127.0.0.1"],
    "evil.test": ["10.0.0.1"],
    "meta.test": ["169.254.169.254"],
    "v6local.test": ["::1"],
    "mixed.test": ["127.0.0.1", "10.0.0.1"],
    **{host: ["127.0.0.1"] for host in OPENVERSE_HOSTS},
    **{host: ["127.0.0.1"] for host in WIKIMEDIA_HOSTS},
    **{host: ["127.0.0.1"] for host in UNSPLASH_HOSTS},
    **{host: ["127.0.0.1"] for host in PEXELS_HOSTS},
}


def only_test_server(address) -> bool:
    """Admit the local test server and nothing else (not even other loopback addresses)."""
    return address == LOOPBACK


def fake_resolver(calls: list[str] | None = None):
    """Return a getaddrinfo stand-in over ADDRESSES that records the names it is asked."""

    def resolve(host, port, *args, **kwargs):
        if calls is not None:
            calls.append(host)
        if host not in ADDRESSES:
            raise socket.gaierror(f"test resolver does not know {host}")
        out = []
        for text in ADDRESSES[host]:
            family = socket.AF_INET6 if ":" in text else socket.AF_INET
            sockaddr = (text, port, 0, 0) if family == socket.AF_INET6 else (text, port)
            out.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
        return out

    return resolve


def fetcher(hosts=("images.test",), **kwargs) -> SafeFetcher:
    """Build a fetcher for the tests: http allowed, test resolver, only 127.0.0.1."""
    options = {
        "schemes": ("http", "https"),
        "resolver": fake_resolver(),
        "address_allowed": only_test_server,
        "timeout": 5,
    }
    options.update(kwargs)
    return SafeFetcher(hosts, **options)


def png_bytes(size=(64, 48), color=(200, 30, 30), mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, "PNG")
    return buf.getvalue()


# --- a local HTTP server ----------------------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_length: bool = True
    delay: float = 0.0  # seconds before answering
    drip: float = 0.0  # seconds between 100-byte pieces of the body


@dataclass
class Seen:
    host: str
    path: str
    headers: dict[str, str]


class LocalServer:
    """An http.server on 127.0.0.1 in a thread; routes by path (query ignored)."""

    def __init__(self, tls: ssl.SSLContext | None = None):
        self.routes: dict[str, Reply | Callable[[Seen], Reply]] = {}
        self.seen: list[Seen] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                seen = Seen(self.headers.get("Host", ""), self.path, dict(self.headers.items()))
                server.seen.append(seen)
                route = server.routes.get(urlsplit(self.path).path, Reply(404, b"not here"))
                reply = route(seen) if callable(route) else route
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.content_length:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                try:
                    step = 100 if reply.drip else max(len(reply.body), 1)
                    for start in range(0, len(reply.body), step):
                        self.wfile.write(reply.body[start : start + step])
                        self.wfile.flush()
                        time.sleep(reply.drip)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading, which is what some tests want

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, host: str, path: str, scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = LocalServer()
    yield s
    s.close()


# --- the address policy -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8
        ("::ffff:8.8.8.8", True),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("127.0.0.1", False),
        ("127.255.0.9", False),
        ("0.0.0.0", False),
        ("0.1.2.3", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # shared address space
        ("100.127.255.254", False),
        ("224.0.0.1", False),
        ("239.255.255.250", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("192.0.2.1", False),
        ("198.18.0.1", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fec0::1", False),  # site-local
        ("fc00::1", False),
        ("fd12:3456::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("::ffff:10.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("::127.0.0.1", False),  # IPv4-compatible (deprecated)
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        ("64:ff9b:1::a00:1", False),  # local-use NAT64
        ("2002:a00:1::1", False),  # 6to4 of 10.0.0.1
        ("2001:db8::1", False),  # documentation
        ("2001::1", False),  # Teredo
        ("100::1", False),  # discard-only
    ],
)
def test_is_public_address_refuses_every_non_public_range(address, public):
    assert is_public_address(ipaddress.ip_address(address)) is public


# --- the fetcher: success path and its guarantees ---------------------------------------------


def test_image_is_fetched_decoded_and_saved_as_rgb_png(server, tmp_path):
    server.routes["/pic.png"] = Reply(
        body=png_bytes(mode="RGBA", color=(0, 0, 255, 0)), headers={"Content-Type": "image/png"}
    )
    out = fetcher().get_image(server.url("images.test", "/pic.png"), tmp_path / "pic.png")
    with Image.open(out) as im:
        assert (im.format, im.mode, im.size) == ("PNG", "RGB", (64, 48))
        assert im.getpixel((0, 0)) == (255, 255, 255)  # transparency laid on white
    # The connection went to the checked address, but the Host header names the host.
    assert server.seen[0].host == f"images.test:{server.port}"


def test_host_is_resolved_once_so_a_rebinding_answer_cannot_redirect_the_connection(
    server, tmp_path
):
    calls: list[str] = []
    answers = iter(["127.0.0.1", "10.0.0.1"])  # a second lookup would give a private address

    def rebinding(host, port, *args):
        calls.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    server.routes["/pic.png"] = Reply(body=png_bytes())
    fetcher(resolver=rebinding).get_image(server.url("images.test", "/pic.png"), tmp_path / "p.png")
    assert calls == ["images.test"]


def test_host_not_in_the_allowed_list_is_refused_before_any_request(server):
    with pytest.raises(FetchError, match="not in the allowed hosts"):
        fetcher().get(server.url("other-images.test", "/pic.png"))
    assert server.seen == []


def test_host_match_is_exact_and_case_insensitive(server):
    server.routes["/x"] = Reply(body=b"ok")
    assert fetcher().get(server.url("IMAGES.Test", "/x")).body == b"ok"
    for lookalike in ("images.test.evil.test", "evilimages.test", "images.test."):
        with pytest.raises(FetchError, match="not in the allowed hosts"):
            fetcher().get(server.url(lookalike, "/x"))


@pytest.mark.parametrize(
    "url",
    ["ftp://images.test/x", "file:///etc/passwd", "gopher://images.test/", "//images.test/x"],
)
def test_schemes_outside_the_list_are_refused(url):
    with pytest.raises(FetchError, match="scheme"):
        fetcher().get(url)


def test_default_fetcher_refuses_plain_http(server):
    with pytest.raises(FetchError, match="scheme 'http' is not allowed"):
        SafeFetcher(["images.test"], resolver=fake_resolver()).get(server.url("images.test", "/x"))


def test_userinfo_in_a_url_is_refused(server):
    with pytest.raises(FetchError, match="user information"):
        fetcher().get(f"http://user:pw@images.test:{server.port}/x")
    with pytest.raises(FetchError, match="user information"):
        fetcher().get(f"http://images.test@evil.test:{server.port}/x")
    assert server.seen == []


@pytest.mark.parametrize("host", ["evil.test", "meta.test", "v6local.test", "mixed.test"])
def test_allowed_host_resolving_to_a_refused_address_is_refused(server, host):
    # Even an allow-listed name is refused when any of its addresses fails the policy.
    with pytest.raises(FetchError, match="non-public address"):
        fetcher(hosts=[host]).get(server.url(host, "/x"))


def test_default_policy_refuses_loopback_so_tests_must_opt_in(server):
    with pytest.raises(FetchError, match="non-public address"):
        SafeFetcher(["images.test"], schemes=("http",), resolver=fake_resolver()).get(
            server.url("images.test", "/x")
        )
    assert server.seen == []


def test_ip_literal_hosts_are_checked_against_the_policy_too():
    with pytest.raises(FetchError, match="non-public address"):
        fetcher(hosts=["169.254.169.254"]).get("http://169.254.169.254/latest/meta-data")


# --- redirects --------------------------------------------------------------------------------


def test_relative_redirect_is_followed_on_the_same_host(server, tmp_path):
    server.routes["/old"] = Reply(302, headers={"Location": "/new.png"})
    server.routes["/new.png"] = Reply(body=png_bytes())
    result = fetcher().get(server.url("images.test", "/old"))
    assert result.url == server.url("images.test", "/new.png")
    assert result.status == 200


def test_redirect_to_a_host_resolving_privately_is_refused(server):
    server.routes["/r"] = Reply(302, headers={"Location": "http://evil.test/steal"})
    with pytest.raises(FetchError, match="non-public address"):
        fetcher(hosts=["images.test", "evil.test"]).get(server.url("images.test", "/r"))
    with pytest.raises(FetchError, match="not in the allowed hosts"):
        fetcher().get(server.url("images.test", "/r"))


def test_redirect_to_cloud_metadata_is_refused(server):
    server.routes["/r"] = Reply(
        302, headers={"Location": "http://169.254.169.254/latest/meta-data"}
    )
    with pytest.raises(FetchError, match="not in the allowed hosts"):
        fetcher().get(server.url("images.test", "/r"))
    # Allow-listing the address does not help: the address policy still refuses it.
    with pytest.raises(FetchError, match="non-public address"):
        fetcher(hosts=["images.test", "169.254.169.254"]).get(server.url("images.test", "/r"))
    server.routes["/m"] = Reply(302, headers={"Location": "http://meta.test/latest/meta-data"})
    with pytest.raises(FetchError, match="non-public address"):
        fetcher(hosts=["images.test", "meta.test"]).get(server.url("images.test", "/m"))


def test_redirect_to_a_refused_scheme_is_refused(server):
    server.routes["/r"] = Reply(302, headers={"Location": "file:///etc/passwd"})
    with pytest.raises(FetchError, match="scheme"):
        fetcher().get(server.url("images.test", "/r"))


def test_redirect_loops_are_capped(server):
    server.routes["/loop"] = Reply(302, headers={"Location": "/loop"})
    with pytest.raises(FetchError, match="more than 3 redirects"):
        fetcher(max_redirects=3).get(server.url("images.test", "/loop"))
    assert len(server.seen) == 4  # the first request and three redirects, then it stopped


def test_request_headers_are_not_forwarded_to_another_host(server):
    # An API key must not follow a redirect to a different host.
    server.routes["/api"] = Reply(
        302, headers={"Location": server.url("other-images.test", "/pic")}
    )
    server.routes["/pic"] = Reply(body=b"ok")
    fetcher(hosts=["images.test", "other-images.test"]).get(
        server.url("images.test", "/api"), headers={"Authorization": "Client-ID secret"}
    )
    first, second = server.seen
    assert first.headers.get("Authorization") == "Client-ID secret"
    assert "Authorization" not in second.headers


# --- bodies -----------------------------------------------------------------------------------


def test_oversized_body_with_content_length_is_refused(server):
    server.routes["/big"] = Reply(body=b"x" * 5000)
    with pytest.raises(FetchError, match="5000 bytes, over the 1000-byte limit"):
        fetcher(max_bytes=1000).get(server.url("images.test", "/big"))


def test_oversized_body_without_content_length_is_cut_off_while_streaming(server):
    server.routes["/big"] = Reply(body=b"x" * 300_000, content_length=False)
    with pytest.raises(FetchError, match="more than the 100000-byte limit"):
        fetcher(max_bytes=100_000).get(server.url("images.test", "/big"))


def test_slow_server_times_out(server):
    server.routes["/slow"] = Reply(body=b"late", delay=1.5)
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        fetcher(timeout=0.3).get(server.url("images.test", "/slow"))
    assert time.monotonic() - started < 1.4


def test_a_body_dripping_in_under_the_read_timeout_still_hits_the_total_deadline(server):
    server.routes["/drip"] = Reply(body=b"x" * 2000, drip=0.05)  # about 1 s in all
    started = time.monotonic()
    with pytest.raises(FetchError, match="longer than 0.4 s"):
        fetcher(timeout=5, total_timeout=0.4).get(server.url("images.test", "/drip"))
    assert time.monotonic() - started < 0.9


def test_http_error_status_is_an_error_carrying_the_status(server):
    server.routes["/gone"] = Reply(410, b"gone")
    with pytest.raises(FetchError, match="HTTP 410") as info:
        fetcher().get(server.url("images.test", "/gone"))
    assert info.value.status == 410


def test_get_json_refuses_a_non_json_body(server):
    server.routes["/api"] = Reply(body=b"<html>hi</html>")
    with pytest.raises(FetchError, match="did not return JSON"):
        fetcher().get_json(server.url("images.test", "/api"))


def test_html_body_is_not_accepted_as_an_image(server, tmp_path):
    server.routes["/pic.png"] = Reply(body=b"<!doctype html><p>hello</p>")
    out = tmp_path / "pic.png"
    with pytest.raises(FetchError, match="not an image"):
        fetcher().get_image(server.url("images.test", "/pic.png"), out)
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_truncated_png_is_refused(server, tmp_path):
    server.routes["/pic.png"] = Reply(body=png_bytes(size=(300, 300))[:-200])
    with pytest.raises(FetchError, match="damaged image|not an image"):
        fetcher().get_image(server.url("images.test", "/pic.png"), tmp_path / "pic.png")
    assert list(tmp_path.iterdir()) == []


def _bilevel_png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("1", (width, height), 0).save(buf, "PNG", optimize=True)
    return buf.getvalue()


def test_decompression_bomb_is_refused_with_a_fetch_error(server, tmp_path):
    # A small file that declares 20000x20000 pixels (400 M): refused before decoding.
    bomb = _bilevel_png(20_000, 20_000)
    assert len(bomb) < 200_000
    server.routes["/bomb.png"] = Reply(body=bomb)
    with pytest.raises(FetchError, match="decompression bomb"):
        fetcher().get_image(server.url("images.test", "/bomb.png"), tmp_path / "b.png")


def test_image_over_max_pixels_is_refused_before_decoding(server, tmp_path):
    # 7000x7000 is below Pillow's own bomb threshold; our limit still refuses it.
    server.routes["/wide.png"] = Reply(body=_bilevel_png(7000, 7000))
    with pytest.raises(FetchError, match="over the 40000000-pixel limit"):
        fetcher().get_image(server.url("images.test", "/wide.png"), tmp_path / "w.png")
    with pytest.raises(FetchError, match="over the 1000-pixel limit"):
        fetcher().get_image(
            server.url("images.test", "/wide.png"), tmp_path / "w.png", max_pixels=1000
        )


# --- HTTPS: the name is sent as SNI and verified while the socket goes to the checked IP ----


def _self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.mark.parametrize(("cert_name", "ok"), [("images.test", True), ("other.test", False)])
def test_https_verifies_the_certificate_for_the_host_name(tmp_path, cert_name, ok):
    cert, key = _self_signed(tmp_path, cert_name)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    client_tls = ssl.create_default_context(cafile=str(cert))
    tls_server = LocalServer(tls=server_tls)
    try:
        tls_server.routes["/pic.png"] = Reply(body=png_bytes())
        https_only = fetcher(schemes=("https",), ssl_context=client_tls)
        url = tls_server.url("images.test", "/pic.png", scheme="https")
        if ok:
            assert https_only.get(url).status == 200
        else:
            with pytest.raises(FetchError, match="TLS"):
                https_only.get(url)
    finally:
        tls_server.close()


# --- API sources: licence data carried from each API's JSON shape ----------------------------

UUIDS = ("4bc43a04-ef46-4544-a0c1-63c63f56e276", "8a1bb4b2-3d5e-4f8a-9c6b-1d2e3f4a5b6c")


def openverse_answer() -> dict:
    """An /v1/images/ answer in the shape Openverse documents (abridged)."""
    return {
        "result_count": 2,
        "page_count": 1,
        "page_size": 5,
        "page": 1,
        "results": [
            {
                "id": UUIDS[0],
                "title": "Broken leaf",
                "foreign_landing_url": "https://www.flickr.com/photos/x/1",
                "url": "https://live.staticflickr.com/1/1_b.jpg",
                "creator": "Nobody",
                "license": "by-nc",
                "license_version": "2.0",
                "license_url": "https://creativecommons.org/licenses/by-nc/2.0/",
                "thumbnail": f"https://api.openverse.org/v1/images/{UUIDS[0]}/thumb/",
            },
            {
                "id": UUIDS[1],
                "title": "Leaf",
                "foreign_landing_url": "https://www.flickr.com/photos/ann/2",
                "url": "https://live.staticflickr.com/2/2_b.jpg",
                "creator": "Ann",
                "creator_url": "https://www.flickr.com/photos/ann",
                "license": "by",
                "license_version": "2.0",
                "license_url": "https://creativecommons.org/licenses/by/2.0/",
                "provider": "flickr",
                "source": "flickr",
                "thumbnail": f"https://api.openverse.org/v1/images/{UUIDS[1]}/thumb/",
                "detail_url": f"https://api.openverse.org/v1/images/{UUIDS[1]}/",
            },
        ],
    }


def test_openverse_carries_licence_data_and_skips_a_result_that_fails(server, tmp_path):
    server.routes["/v1/images/"] = Reply(body=json.dumps(openverse_answer()).encode())
    server.routes[f"/v1/images/{UUIDS[0]}/thumb/"] = Reply(424, b"upstream failed")
    server.routes[f"/v1/images/{UUIDS[1]}/thumb/"] = Reply(body=png_bytes())
    source = Openverse(
        fetcher(hosts=OPENVERSE_HOSTS), base_url=f"http://api.openverse.org:{server.port}"
    )
    found = source.find("green leaf", workdir=tmp_path, size=SIZE)
    assert found is not None and found.path.is_file()
    assert (found.source, found.title, found.author) == ("openverse", "Leaf", "Ann")
    assert found.license == "CC BY 2.0"
    assert found.license_url == "https://creativecommons.org/licenses/by/2.0/"
    assert found.source_url == "https://www.flickr.com/photos/ann/2"
    assert found.attribution == "“Leaf” by Ann, CC BY 2.0 (openverse)"
    search = server.seen[0].path
    assert search.startswith("/v1/images/?") and "q=green+leaf" in search
    assert "license_type=all-cc" in search and "page_size=5" in search
    # Every download stayed on the one Openverse host.
    assert {s.host for s in server.seen} == {f"api.openverse.org:{server.port}"}


def test_openverse_with_no_results_finds_nothing(server, tmp_path):
    server.routes["/v1/images/"] = Reply(body=b'{"result_count": 0, "results": []}')
    source = Openverse(
        fetcher(hosts=OPENVERSE_HOSTS), base_url=f"http://api.openverse.org:{server.port}"
    )
    assert source.find("nothing", workdir=tmp_path, size=SIZE) is None


def test_openverse_unexpected_answer_is_a_provider_error(server, tmp_path):
    server.routes["/v1/images/"] = Reply(body=b'{"detail": "throttled"}')
    source = Openverse(
        fetcher(hosts=OPENVERSE_HOSTS), base_url=f"http://api.openverse.org:{server.port}"
    )
    with pytest.raises(ProviderError, match="no 'results' list"):
        source.find("leaf", workdir=tmp_path, size=SIZE)


def wikimedia_answer(port: int) -> dict:
    """A generator=search + prop=imageinfo answer in MediaWiki's format=json shape."""
    upload = f"http://upload.wikimedia.org:{port}"
    return {
        "batchcomplete": "",
        "query": {
            "pages": {
                "222": {
                    "pageid": 222,
                    "ns": 6,
                    "title": "File:Second fox.jpg",
                    "index": 2,
                    "imageinfo": [
                        {
                            "thumburl": f"{upload}/thumb/second.jpg",
                            "url": f"{upload}/second.jpg",
                            "descriptionurl": "https://commons.wikimedia.org/wiki/File:Second_fox.jpg",
                            "extmetadata": {
                                "Artist": {"value": "Other", "source": "commons-desc-page"},
                                "LicenseShortName": {"value": "CC0"},
                            },
                        }
                    ],
                },
                "111": {
                    "pageid": 111,
                    "ns": 6,
                    "title": "File:Red fox.jpg",
                    "index": 1,
                    "imageinfo": [
                        {
                            "thumburl": f"{upload}/thumb/red-fox-1600px.jpg",
                            "thumbwidth": 1600,
                            "thumbheight": 1067,
                            "url": f"{upload}/red-fox.jpg",
                            "descriptionurl": "https://commons.wikimedia.org/wiki/File:Red_fox.jpg",
                            "descriptionshorturl": "https://commons.wikimedia.org/w/index.php?curid=111",
                            "extmetadata": {
                                "ObjectName": {"value": "Red fox"},
                                "Artist": {
                                    "value": '<a href="//commons.wikimedia.org/wiki/User:Jo">Jo &amp; Kim</a>',
                                    "source": "commons-desc-page",
                                },
                                "LicenseShortName": {"value": "CC BY-SA 4.0"},
                                "LicenseUrl": {
                                    "value": "https://creativecommons.org/licenses/by-sa/4.0"
                                },
                            },
                        }
                    ],
                },
            }
        },
    }


def test_wikimedia_takes_the_best_ranked_hit_and_its_extmetadata(server, tmp_path):
    server.routes["/w/api.php"] = Reply(body=json.dumps(wikimedia_answer(server.port)).encode())
    jpeg = io.BytesIO()
    Image.new("RGB", (80, 60), (200, 90, 10)).save(jpeg, "JPEG")
    server.routes["/thumb/red-fox-1600px.jpg"] = Reply(body=jpeg.getvalue())
    source = WikimediaCommons(
        fetcher(hosts=WIKIMEDIA_HOSTS), base_url=f"http://commons.wikimedia.org:{server.port}"
    )
    found = source.find("red fox", workdir=tmp_path, size=SIZE)
    assert found is not None
    assert (found.title, found.author) == ("Red fox", "Jo & Kim")
    assert found.license == "CC BY-SA 4.0"
    assert found.license_url == "https://creativecommons.org/licenses/by-sa/4.0"
    assert found.source_url == "https://commons.wikimedia.org/wiki/File:Red_fox.jpg"
    query = server.seen[0].path
    for part in (
        "action=query",
        "generator=search",
        "gsrsearch=red+fox+filetype%3Abitmap",
        "gsrnamespace=6",
        "prop=imageinfo",
        "iiprop=url%7Cextmetadata",
        "iiurlwidth=1600",
        "format=json",
    ):
        assert part in query
    assert server.seen[1].host == f"upload.wikimedia.org:{server.port}"


def test_wikimedia_without_hits_finds_nothing(server, tmp_path):
    server.routes["/w/api.php"] = Reply(body=b'{"batchcomplete": ""}')
    source = WikimediaCommons(
        fetcher(hosts=WIKIMEDIA_HOSTS), base_url=f"http://commons.wikimedia.org:{server.port}"
    )
    assert source.find("zzzz", workdir=tmp_path, size=SIZE) is None


def unsplash_answer(port: int) -> dict:
    """A /search/photos answer in Unsplash's documented shape (abridged)."""
    return {
        "total": 1,
        "total_pages": 1,
        "results": [
            {
                "id": "eOLpJytrbsQ",
                "description": "A man drinking a coffee.",
                "alt_description": "man holding cup",
                "urls": {
                    "raw": f"http://images.unsplash.com:{port}/photo-1?ixid=abc",
                    "regular": f"http://images.unsplash.com:{port}/photo-1?w=1080",
                    "small": f"http://images.unsplash.com:{port}/photo-1?w=400",
                },
                "links": {
                    "html": "https://unsplash.com/photos/eOLpJytrbsQ",
                    "download_location": f"http://api.unsplash.com:{port}/photos/eOLpJytrbsQ/download?ixid=abc",
                },
                "user": {
                    "name": "Jeff Sheldon",
                    "links": {"html": "https://unsplash.com/@ugmonk"},
                },
            }
        ],
    }


def test_unsplash_sends_the_key_to_the_api_only_and_tracks_the_download(server, tmp_path):
    server.routes["/search/photos"] = Reply(body=json.dumps(unsplash_answer(server.port)).encode())
    server.routes["/photo-1"] = Reply(body=png_bytes())
    server.routes["/photos/eOLpJytrbsQ/download"] = Reply(body=b'{"url": "x"}')
    source = Unsplash(
        fetcher(hosts=UNSPLASH_HOSTS),
        "KEY123",
        base_url=f"http://api.unsplash.com:{server.port}",
    )
    found = source.find("coffee", workdir=tmp_path, size=Size(1080, 1920))
    assert found is not None
    assert (found.author, found.license) == ("Jeff Sheldon", "Unsplash License")
    assert found.title == "A man drinking a coffee."
    assert found.source_url == (
        "https://unsplash.com/photos/eOLpJytrbsQ?utm_source=videoforge&utm_medium=referral"
    )
    search, image, tracking = server.seen
    assert search.headers["Authorization"] == "Client-ID KEY123"
    assert "query=coffee" in search.path and "per_page=5" in search.path
    assert "orientation=portrait" in search.path
    assert image.host.startswith("images.unsplash.com") and "Authorization" not in image.headers
    assert tracking.path.startswith("/photos/eOLpJytrbsQ/download")
    assert tracking.headers["Authorization"] == "Client-ID KEY123"
    assert "KEY123" not in repr(source)


def pexels_answer(port: int) -> dict:
    """A /v1/search answer in Pexels' documented shape (abridged)."""
    return {
        "page": 1,
        "per_page": 5,
        "total_results": 1,
        "photos": [
            {
                "id": 2014422,
                "width": 3024,
                "height": 3024,
                "url": "https://www.pexels.com/photo/brown-rocks-2014422/",
                "photographer": "Joey Farina",
                "photographer_url": "https://www.pexels.com/@joey",
                "src": {
                    "original": f"http://images.pexels.com:{port}/photos/2014422/orig.jpeg",
                    "large2x": f"http://images.pexels.com:{port}/photos/2014422/large2x.jpeg",
                    "large": f"http://images.pexels.com:{port}/photos/2014422/large.jpeg",
                },
                "alt": "Brown Rocks During Golden Hour",
            }
        ],
    }


def test_pexels_carries_photographer_and_licence(server, tmp_path):
    server.routes["/v1/search"] = Reply(body=json.dumps(pexels_answer(server.port)).encode())
    server.routes["/photos/2014422/large2x.jpeg"] = Reply(body=png_bytes())
    source = Pexels(
        fetcher(hosts=PEXELS_HOSTS), "PKEY", base_url=f"http://api.pexels.com:{server.port}"
    )
    found = source.find("rocks", workdir=tmp_path, size=Size(1080, 1080))
    assert found is not None
    assert (found.author, found.license) == ("Joey Farina", "Pexels License")
    assert found.title == "Brown Rocks During Golden Hour"
    assert found.source_url == "https://www.pexels.com/photo/brown-rocks-2014422/"
    search, image = server.seen
    assert search.headers["Authorization"] == "PKEY"
    assert "orientation=square" in search.path
    assert "Authorization" not in image.headers


def test_source_hosts_constants_cover_api_and_image_hosts():
    assert Openverse.default_hosts() == ("api.openverse.org",)
    assert set(WikimediaCommons.default_hosts()) == {
        "commons.wikimedia.org",
        "upload.wikimedia.org",
    }
    assert set(Unsplash.default_hosts()) == {"api.unsplash.com", "images.unsplash.com"}
    assert set(Pexels.default_hosts()) == {"api.pexels.com", "images.pexels.com"}
    assert LocalLibrary.default_hosts() == ()


def test_licence_names_and_html_stripping():
    assert cc_license_name("by-sa", "4.0") == "CC BY-SA 4.0"
    assert cc_license_name("cc0", "1.0") == "CC0 1.0"
    assert cc_license_name("pdm", "1.0") == "Public Domain Mark 1.0"
    assert cc_license_name("", "") is None
    assert strip_html('<span class="x">A&nbsp;<b>B</b></span>\n c') == "A B c"


# --- the local library ------------------------------------------------------------------------


def _write_png(path: Path, color=(10, 120, 10)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(color=color))
    return path


def test_match_words_lowercases_splits_and_stems():
    assert match_words("Red_Foxes in-the Snow") == {"red", "fox", "snow"}
    assert match_words("berries glasses cats bus") == {"berry", "glass", "cat", "bus"}


def test_library_matches_by_file_name_words(tmp_path):
    lib = tmp_path / "lib"
    _write_png(lib / "red-fox.png")
    _write_png(lib / "blue_sky.png")
    _write_png(lib / "city night.png")
    found = LocalLibrary(lib).find("Red foxes", workdir=tmp_path / "work", size=SIZE)
    assert found is not None
    assert (found.source, found.title, found.license) == ("library", "red-fox", "local library")
    assert found.path.parent == tmp_path / "work"
    with Image.open(found.path) as im:
        assert (im.format, im.mode) == ("PNG", "RGB")
    city = LocalLibrary(lib).find("the city at night", workdir=tmp_path / "work", size=SIZE)
    assert city is not None and city.title == "city night"


def test_library_matches_by_sidecar_tags_and_carries_their_credit(tmp_path):
    lib = tmp_path / "lib"
    _write_png(lib / "img001.png")
    (lib / "img001.json").write_text(
        json.dumps(
            {
                "tags": ["mountain", "snow peak"],
                "title": "Alps",
                "author": "Eva",
                "license": "CC BY 4.0",
                "license_url": "https://creativecommons.org/licenses/by/4.0/",
                "source_url": "https://example.org/alps",
            }
        )
    )
    _write_png(lib / "img002.jpg")
    (lib / "img002.txt").write_text("ocean\nwaves\n")
    found = LocalLibrary(lib).find("snowy mountains", workdir=tmp_path, size=SIZE)
    assert found is not None
    assert found.credit() | {"attribution": ""} == {
        "source": "library",
        "title": "Alps",
        "author": "Eva",
        "license": "CC BY 4.0",
        "license_url": "https://creativecommons.org/licenses/by/4.0/",
        "source_url": "https://example.org/alps",
        "attribution": "",
    }
    waves = LocalLibrary(lib).find("big waves", workdir=tmp_path, size=SIZE)
    assert waves is not None and waves.title == "img002"


def test_library_ties_go_to_the_first_name_and_exact_names_win(tmp_path):
    lib = tmp_path / "lib"
    _write_png(lib / "b-cat.png")
    _write_png(lib / "a-cat.png")
    _write_png(lib / "cat-on-a-mat.png")
    assert LocalLibrary(lib).find("cat", workdir=tmp_path, size=SIZE).title == "a-cat"
    assert LocalLibrary(lib).find("b-cat.png", workdir=tmp_path, size=SIZE).title == "b-cat"


def test_library_without_a_match_finds_nothing(tmp_path):
    lib = tmp_path / "lib"
    _write_png(lib / "tree.png")
    assert LocalLibrary(lib).find("submarine", workdir=tmp_path, size=SIZE) is None
    assert LocalLibrary(lib).find("  ", workdir=tmp_path, size=SIZE) is None


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_library_refuses_a_symlink_that_escapes_the_folder(tmp_path):
    outside = _write_png(tmp_path / "outside" / "sun.png")
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "sun.png").symlink_to(outside)
    (lib / "sunny-dir").symlink_to(outside.parent, target_is_directory=True)
    assert LocalLibrary(lib).find("sun", workdir=tmp_path / "work", size=SIZE) is None
    # A link that stays inside the folder is fine.
    _write_png(lib / "real" / "moon.png")
    (lib / "moon-link.png").symlink_to(lib / "real" / "moon.png")
    assert LocalLibrary(lib).find("moon link", workdir=tmp_path, size=SIZE) is not None


def test_library_skips_a_broken_file_for_the_next_match(tmp_path, caplog):
    lib = tmp_path / "lib"
    (lib).mkdir()
    (lib / "broken-fox.png").write_bytes(b"<html>not an image</html>")
    _write_png(lib / "fox.png")
    with caplog.at_level(logging.WARNING):
        found = LocalLibrary(lib).find("fox", workdir=tmp_path, size=SIZE)
    assert found is not None and found.title == "fox"
    assert "broken-fox.png" in caplog.text


def test_library_refuses_a_decompression_bomb(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "bomb.png").write_bytes(_bilevel_png(7000, 7000))
    with pytest.raises(ProviderError, match="pixel limit"):
        LocalLibrary(lib).find("bomb", workdir=tmp_path, size=SIZE)


def test_library_folder_that_does_not_exist_is_a_provider_error(tmp_path):
    with pytest.raises(ProviderError, match="does not exist"):
        LocalLibrary(tmp_path / "missing").find("x", workdir=tmp_path, size=SIZE)


# --- the finder -------------------------------------------------------------------------------


class _Nothing:
    name = "nothing"

    def find(self, query, *, workdir, size):
        return None


def test_finder_falls_through_a_failing_source_without_logging_its_key(server, tmp_path, caplog):
    server.routes["/search/photos"] = Reply(401, b'{"errors": ["OAuth error"]}')
    failing = Unsplash(
        fetcher(hosts=UNSPLASH_HOSTS),
        "SECRET-KEY",
        base_url=f"http://api.unsplash.com:{server.port}",
    )
    lib = tmp_path / "lib"
    _write_png(lib / "harbour.png")
    finder = ImageFinder([_Nothing(), failing, LocalLibrary(lib)])
    with caplog.at_level(logging.INFO):
        found = finder.find("harbour", workdir=tmp_path / "work", size=SIZE)
    assert isinstance(found, FoundImage) and found.source == "library"
    assert "unsplash" in caplog.text and "HTTP 401" in caplog.text
    assert "SECRET-KEY" not in caplog.text


def test_finder_returns_none_when_no_source_has_a_picture(tmp_path):
    lib = tmp_path / "lib"
    _write_png(lib / "tree.png")
    assert (
        ImageFinder([_Nothing(), LocalLibrary(lib)]).find("submarine", workdir=tmp_path, size=SIZE)
        is None
    )
