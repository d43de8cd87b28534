"""Where the worker may send a push: http(s) URLs of bounded length whose host is a public
address, unless PUSH_ALLOW_PRIVATE_TARGETS says otherwise.

A subscription's URL is chosen by the client, so without a check any user could make the
worker POST into the operator's network (SSRF). The host is checked when the subscription is
made and again at each connection, on the addresses the connection will actually use (an
aiohttp resolver that drops non-public ones), so a name re-pointed at 127.0.0.1 later
(DNS rebinding) is refused too. Operators should still restrict the workers' egress.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

MAX_URL_LENGTH = 2048


class TargetRefused(ValueError):
    """The URL is not one the worker may send to; the message says why (client-facing)."""


def public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str) -> tuple[str, str | None]:
    """(host, literal address or None) of an acceptable URL's syntax; TargetRefused if not."""
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"At most {MAX_URL_LENGTH} characters.")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise TargetRefused("The URL has spaces or control characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise TargetRefused("Not a valid URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused("Must be an http or https URL with a host.")
    if parts.username or parts.password:
        raise TargetRefused("Credentials in the URL are not accepted.")
    host = parts.hostname
    try:
        literal: str | None = str(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        literal = None
    return host, literal


async def check_target(url: str, *, allow_private: bool) -> None:
    """Refuse a URL the worker must not send to: bad syntax, or (unless allow_private) a host
    that is or resolves to a non-public address. A name that does not resolve now is
    accepted: the resolver at send time decides again."""
    host, literal = check_url(url)
    if allow_private:
        return
    if literal is not None:
        if not public_address(literal):
            raise TargetRefused("The host is not a public address.")
        return
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        raise TargetRefused("The host is not a public address.")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return
    if any(not public_address(str(info[4][0])) for info in infos):
        raise TargetRefused("The host resolves to a non-public address.")


class PublicOnlyResolver(AbstractResolver):
    """aiohttp's threaded resolver, keeping public addresses only: the connection can only
    go where the check allows, whatever the name resolves to by then."""

    def __init__(self) -> None:
        self._inner = ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = [r for r in await self._inner.resolve(host, port, family) if public_address(r["host"])]
        if not results:
            raise OSError(f"{host} resolves to no public address")
        return results

    async def close(self) -> None:
        await self._inner.close()


def literal_allowed(url: str, *, allow_private: bool) -> bool:
    """At send time: aiohttp does not resolve a literal address, so check it here."""
    _, literal = check_url(url)
    return allow_private or literal is None or public_address(literal)

