"""The SSRF guard every outbound URL (Slack, webhooks) passes: at save time, at send time, and
at connect time (the address dialled is one the guard resolved and checked itself, so a name that
resolves to a public address at the check and to a private one a moment later is refused).

A URL is refused when any address its host resolves to is not globally routable (``is_global``,
which also refuses shared/CGNAT 100.64.0.0/10, benchmarking, documentation and reserved ranges),
multicast, or an IPv6 address embedding a refused IPv4 one (mapped, 6to4, NAT64), unless the
allow-list (a setting, for local use and tests) names its host, its host and port, or a network
holding the address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from shared.errors import InvalidInput

Resolver = Callable[[str, int], Awaitable[list[str]]]
IP = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(InvalidInput):
    code, title = "unsafe-url", "The URL is not allowed"


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UnsafeUrl(f"the host {host!r} does not resolve: {exc.strerror}") from exc
    except UnicodeError as exc:  # the resolver's IDNA step: a label over 63 characters, say
        raise UnsafeUrl(f"the host {host!r} is not a valid name: {exc}") from exc
    return sorted({str(info[4][0]) for info in infos})


_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known prefix: the last 32 bits are IPv4


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one reaches through a translator (mapped, 6to4, NAT64)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:  # 2002:a00:1:: reaches 10.0.0.1 through any 6to4 relay
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _forbidden_kind(ip: IP) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None and (kind := _forbidden_kind(embedded)):
            return kind
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_private:
        return "private"
    if ip.is_multicast:  # some multicast ranges count as global
        return "multicast"
    if ip.is_reserved:
        return "reserved"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "site-local"
    if not ip.is_global:  # e.g. 100.64.0.0/10 (shared/CGNAT): neither private nor public
        return "non-global"
    return None


class UrlGuard:
    def __init__(self, allow_list: list[str], resolver: Resolver = system_resolver) -> None:
        self._resolver = resolver
        self._networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self._hosts: set[str] = set()
        for entry in allow_list:
            entry = entry.strip().lower()
            if "/" in entry:
                self._networks.append(ipaddress.ip_network(entry, strict=False))
            elif entry:
                self._hosts.add(entry)

    def _allowed(self, host: str, port: int, ip: IP | None) -> bool:
        names = {host, f"{host}:{port}"}
        if ip is not None:
            names |= {str(ip), f"{ip}:{port}", f"[{ip}]:{port}"}
        if names & self._hosts:
            return True
        return ip is not None and any(ip in net for net in self._networks)

    async def check(self, url: str) -> None:
        """Raise UnsafeUrl (422) unless ``url`` is an http(s) URL that reaches public hosts."""
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise UnsafeUrl(f"the URL is not valid: {exc}") from exc
        if parts.scheme not in ("http", "https"):
            raise UnsafeUrl("only http and https URLs are allowed")
        host = (parts.hostname or "").lower()
        if not host:
            raise UnsafeUrl("the URL has no host")
        await self.addresses(host, port)

    async def addresses(self, host: str, port: int) -> list[str]:
        """The addresses to dial for ``host``: every one it resolves to must be allowed.

        ``[host]`` when the allow-list names the host (it is then dialled by name).
        """
        host = host.lower().strip("[]")
        if self._allowed(host, port, None):
            return [host]
        try:
            literal: IP | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        addresses = [str(literal)] if literal else await self._resolver(host, port)
        if not addresses:
            raise UnsafeUrl(f"the host {host!r} does not resolve")
        for raw in addresses:
            ip = ipaddress.ip_address(raw.split("%")[0])
            kind = _forbidden_kind(ip)
            if kind and not self._allowed(host, port, ip):
                shown = host if literal else f"{host} (resolves to {ip})"
                raise UnsafeUrl(
                    f"{shown} is a {kind} address; outbound calls to addresses that are not "
                    "globally routable (private, loopback, link-local, shared...) are refused",
                    address=str(ip),
                )
        return addresses

    def transport(self, **kwargs: Any) -> httpx.AsyncHTTPTransport:
        """An httpx transport that dials only addresses this guard resolved and allowed.

        Use it with ``trust_env=False`` (no proxy from the environment: it would be dialled
        instead of the checked address). UnsafeUrl propagates out of the request.
        """
        transport = httpx.AsyncHTTPTransport(**kwargs)
        pool = transport._pool
        assert isinstance(pool, httpcore.AsyncConnectionPool)  # no proxy configured
        # httpx has no public hook for the network backend; a unit test proves this one is used
        pool._network_backend = _GuardedBackend(self, pool._network_backend)
        return transport


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves through the guard at connect time and dials a checked address (TLS still
    verifies the URL's host name: httpcore passes it as the server name)."""

    def __init__(self, guard: UrlGuard, inner: httpcore.AsyncNetworkBackend) -> None:
        self._guard = guard
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._guard.addresses(host, port)
        for address in addresses[:-1]:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError:
                continue  # the next checked address
        return await self._inner.connect_tcp(
            addresses[-1], port, timeout, local_address, socket_options
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise UnsafeUrl("unix sockets are not an outbound target")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
