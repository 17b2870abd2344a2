"""The SSRF guard: every address that is not globally routable is refused, at save time, at send
time and at connect time; redirects are never followed.

The send path is exercised for real: ``HttpSender`` posts over a socket to a receiver on this
machine, with the guard's resolver scripted (the receiver's loopback address is only reachable
where the allow-list says so).
"""

from __future__ import annotations

import ipaddress
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from services.notifications.channels import HttpSender
from services.notifications.config import NotificationsSettings
from services.notifications.ssrf import UnsafeUrl, UrlGuard, system_resolver

# (address, the kind named in the refusal)
REFUSED = [
    ("100.64.0.1", "non-global"),  # shared address space (CGNAT)
    ("100.100.100.200", "non-global"),  # a cloud metadata service inside 100.64.0.0/10
    ("2002:a00:1::", "private"),  # 6to4 for 10.0.0.1
    ("2002:7f00:1::", "loopback"),  # 6to4 for 127.0.0.1
    ("2002:a9fe:a9fe::", "link-local"),  # 6to4 for 169.254.169.254
    ("64:ff9b::a00:1", "private"),  # NAT64 for 10.0.0.1
    ("::ffff:10.0.0.1", "private"),  # IPv4-mapped
    ("::ffff:127.0.0.1", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.10", "private"),
    ("127.0.0.1", "loopback"),
    ("::1", "loopback"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("0.1.2.3", "private"),  # "this network"
    ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"),
    ("fc00::1", "private"),  # unique local
    ("fd00:ec2::254", "private"),  # the AWS IPv6 metadata address
    ("fec0::1", "site-local"),
    ("192.0.0.1", "private"),  # IETF protocol assignments
    ("192.0.2.1", "private"),  # documentation
    ("198.51.100.1", "private"),
    ("203.0.113.1", "private"),
    ("2001:db8::1", "private"),
    ("198.18.0.1", "private"),  # benchmarking
    ("240.0.0.1", "private"),  # reserved (class E)
    ("255.255.255.255", "private"),  # broadcast
    ("224.0.0.1", "multicast"),
    ("233.1.1.1", "multicast"),  # GLOP multicast: is_global, still refused
    ("ff0e::1", "multicast"),
    ("2001::1", "private"),  # Teredo
    ("100::1", "private"),  # discard-only
]

# NAT64 (64:ff9b::/96) sits in reserved space and is refused even for a public IPv4
ALLOWED = ["93.184.215.14", "2606:2800:220:1::", "2002:5db8:d70e::"]


def resolver(table: dict[str, list[str]]) -> Any:
    async def resolve(host: str, port: int) -> list[str]:
        return table[host]

    return resolve


def url_for(address: str) -> str:
    return f"http://[{address}]/hook" if ":" in address else f"http://{address}/hook"


@pytest.mark.parametrize(("address", "kind"), REFUSED)
async def test_every_address_that_is_not_globally_routable_is_refused(
    address: str, kind: str
) -> None:
    guard = UrlGuard([], resolver({"hooks.example.com": ["93.184.215.14", address]}))

    with pytest.raises(UnsafeUrl, match=f"is a {kind} address") as literal:
        await guard.check(url_for(address))
    assert literal.value.extra["address"] == str(ipaddress.ip_address(address))
    # behind a name too, even when another of its addresses is public
    shown = re.escape(f"resolves to {ipaddress.ip_address(address)}) is a {kind} address")
    with pytest.raises(UnsafeUrl, match=shown):
        await guard.check("https://hooks.example.com/services/T/B/X")


@pytest.mark.parametrize("address", ALLOWED)
async def test_globally_routable_addresses_pass(address: str) -> None:
    guard = UrlGuard([], resolver({"hooks.example.com": [address]}))
    await guard.check(url_for(address))
    await guard.check("https://hooks.example.com/x")
    assert await guard.addresses("hooks.example.com", 443) == [address]


# ------------------------------------------------------------------ the send path, over a socket


class Receiver:
    """An HTTP endpoint on 127.0.0.1: ``/redirect`` answers 302 to ``/internal``, others 200."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        paths = self.paths

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                paths.append(self.path)
                self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("location", f"http://127.0.0.1:{port}/internal")
                else:
                    self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        port = self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


class Rebinding:
    """A resolver whose answer changes after the first lookup (DNS rebinding)."""

    def __init__(self, first: list[str], then: list[str]) -> None:
        self.answers = [first, then]
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        return self.answers[min(len(self.lookups), 2) - 1]


async def post(guard: UrlGuard, url: str) -> Any:
    sender = HttpSender(NotificationsSettings(http_timeout_s=5), guard)
    try:
        return await sender.post(url, b"{}", {})
    finally:
        await sender.close()


async def test_the_address_dialled_is_the_one_the_guard_resolved(receiver: Receiver) -> None:
    """Control: ``receiver.test`` exists only in the guard's resolver, so reaching the receiver
    proves the connection used the guard's answer (allowed here by the allow-list)."""
    guard = UrlGuard(["127.0.0.0/8"], resolver({"receiver.test": ["127.0.0.1"]}))

    result = await post(guard, f"http://receiver.test:{receiver.port}/hook")

    assert result.ok, result
    assert receiver.paths == ["/hook"]


async def test_a_name_that_rebinds_to_loopback_after_the_check_is_refused_at_connect(
    receiver: Receiver,
) -> None:
    """``localhost`` answers a public address to the send-time check, then 127.0.0.1. Without
    the connect-time check the system resolver would dial the receiver."""
    rebinding = Rebinding(["93.184.215.14"], ["127.0.0.1"])
    guard = UrlGuard([], rebinding)

    result = await post(guard, f"http://localhost:{receiver.port}/hook")

    assert not result.ok
    assert result.permanent
    assert "resolves to 127.0.0.1) is a loopback address" in (result.error or "")
    assert rebinding.lookups == ["localhost", "localhost"]  # at the check and at connect
    assert receiver.paths == []


async def test_a_private_address_is_refused_before_any_connection(receiver: Receiver) -> None:
    result = await post(UrlGuard([], resolver({})), f"http://127.0.0.1:{receiver.port}/hook")

    assert result.permanent
    assert "loopback" in (result.error or "")
    assert receiver.paths == []


async def test_redirects_are_refused_not_followed(receiver: Receiver) -> None:
    guard = UrlGuard(["127.0.0.0/8"], resolver({}))

    result = await post(guard, f"http://127.0.0.1:{receiver.port}/redirect")

    assert not result.ok
    assert result.permanent
    assert result.status_code == 302
    assert result.error == "redirects are not followed"
    assert receiver.paths == ["/redirect"]  # /internal never reached


async def test_a_host_name_the_resolver_cannot_encode_is_refused_not_a_500() -> None:
    # a label over 63 characters fails the resolver's IDNA step (found by the schema fuzzer)
    with pytest.raises(UnsafeUrl, match="not a valid name"):
        await system_resolver("x" * 64 + ".example", 443)
