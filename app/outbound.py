"""Outgoing HTTP to URLs that users choose (webhooks, push gateways), refusing the operator's
own networks (SSRF).

A URL is checked when it is set (its host resolved now: 422 for a loopback, private,
link-local, multicast, reserved or unspecified address, IPv4 or IPv6, mapped forms included)
and again on every attempt, on the addresses the connection will actually use: an aiohttp
resolver drops every address that is not allowed, so a name re-pointed at 127.0.0.1 later
(DNS rebinding) fails the attempt. Decimal, octal and hex IPv4 spellings reach the resolver as
names and are refused there like any other. `allowed` networks (WEBHOOK_ALLOWED_NETWORKS) are
exempt: tests and receivers on premises.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

MAX_URL_LENGTH = 2048
MAX_RESPONSE_BYTES = 64 * 1024

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


EVERYWHERE: list[Network] = [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]


class TargetRefused(ValueError):
    """The URL is not one the server may send to; the message says why (client-facing)."""


def parse_networks(value: str) -> list[Network]:
    """CIDRs, comma- or space-separated; ValueError naming a bad one."""
    networks: list[Network] = []
    for entry in value.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"not a network (CIDR): {entry!r}") from None
    return networks


def address_allowed(address: str, allowed: Sequence[Network] = ()) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if any(ip.version == net.version and ip in net for net in allowed):
        return True
    return ip.is_global and not ip.is_multicast


def check_syntax(url: str, *, schemes: tuple[str, ...] = ("http", "https")) -> tuple[str, str | None]:
    """(host, literal address or None) of an acceptable URL; TargetRefused if not."""
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"At most {MAX_URL_LENGTH} characters.")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise TargetRefused("The URL has spaces or control characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise TargetRefused("Not a valid URL.") from None
    if parts.scheme not in schemes or not parts.hostname:
        raise TargetRefused(f"Must be a {' or '.join(schemes)} URL with a host.")
    if parts.username or parts.password:
        raise TargetRefused("Credentials in the URL are not accepted.")
    host = parts.hostname
    try:
        literal: str | None = str(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        literal = None
    return host, literal


async def check_target(url: str, *, allowed: Sequence[Network], schemes: tuple[str, ...] = ("http", "https")) -> None:
    """Refuse a URL whose syntax is bad or whose host is, or now resolves to, an address that
    is not allowed. A name that does not resolve now is accepted: each attempt decides again."""
    host, literal = check_syntax(url, schemes=schemes)
    if literal is not None:
        if not address_allowed(literal, allowed):
            raise TargetRefused("The host is not a public address.")
        return
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):  # loopback by definition (RFC 6761)
        if not (address_allowed("127.0.0.1", allowed) and address_allowed("::1", allowed)):
            raise TargetRefused("The host is not a public address.")
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return
    if any(not address_allowed(str(info[4][0]), allowed) for info in infos):
        raise TargetRefused("The host resolves to a non-public address.")


class AllowedOnlyResolver(AbstractResolver):
    """aiohttp's threaded resolver keeping allowed addresses only: the connection can only go
    where the check allows, whatever the name resolves to by then."""

    def __init__(self, allowed: Sequence[Network]) -> None:
        self._inner = ThreadedResolver()
        self._allowed = list(allowed)

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = [r for r in await self._inner.resolve(host, port, family) if address_allowed(r["host"], self._allowed)]
        if not results:
            raise OSError(f"{host} resolves to no public address")
        return results

    async def close(self) -> None:
        await self._inner.close()


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (refused, unreachable, timed out)
    error: str | None  # why it failed, for the deliveries log; None on 2xx
    body: bytes = b""  # the response's first MAX_RESPONSE_BYTES
    refused: bool = False  # the target is not allowed: retrying cannot help


class OutboundClient:
    """One aiohttp session per process for user-chosen URLs: no redirects followed, the
    response read up to 64 KiB, one timeout over the whole attempt."""

    def __init__(self, *, allowed: Sequence[Network], limit: int = 200) -> None:
        self.allowed = list(allowed)
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(resolver=AllowedOnlyResolver(self.allowed), limit=self._limit),
            )
        return self._session

    async def post(self, url: str, *, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
        try:
            _, literal = check_syntax(url)
        except TargetRefused as exc:
            return Answer(None, str(exc), refused=True)
        if literal is not None and not address_allowed(literal, self.allowed):
            return Answer(None, "The host is not a public address.", refused=True)  # aiohttp resolves no literal
        try:
            async with self.session().post(
                url, data=body, headers=headers, allow_redirects=False, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as response:
                content = await response.content.read(MAX_RESPONSE_BYTES)
                error = None if 200 <= response.status < 300 else f"HTTP {response.status}"
                return Answer(response.status, error, content)
        except TimeoutError:
            return Answer(None, f"No answer within {timeout:g} s.")
        except aiohttp.ClientConnectorError as exc:
            refused = "no public address" in str(exc.os_error)
            return Answer(None, f"Cannot connect: {exc.os_error or exc}"[:300], refused=refused)
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return Answer(None, f"{type(exc).__name__}: {exc}"[:300])

    def allows_literal(self, url: str) -> bool:
        """False for a URL naming an address that is not allowed (aiohttp does not resolve a
        literal, so clients that make their own request, like pywebpush, check this first)."""
        _, literal = check_syntax(url)
        return literal is None or address_allowed(literal, self.allowed)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
