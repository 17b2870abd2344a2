"""The SSRF guard every outbound URL (Slack, webhooks) passes, at save time and at send time.

A URL is refused when any address its host resolves to is private, loopback, link-local,
multicast, reserved or unspecified, unless the allow-list (a setting, for local use and tests)
names its host, its host and port, or a network holding the address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

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
    return sorted({str(info[4][0]) for info in infos})


def _forbidden_kind(ip: IP) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return _forbidden_kind(ip.ipv4_mapped)
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_private:
        return "private"
    if ip.is_multicast:
        return "multicast"
    if ip.is_reserved:
        return "reserved"
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
        if self._allowed(host, port, None):
            return
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
                    f"{shown} is a {kind} address; outbound calls to private, loopback and "
                    "link-local addresses are refused",
                    address=str(ip),
                )
