"""The client's address: the socket's peer, or what a trusted proxy says it forwarded for.

One helper for every use (login throttling, registration limits, sessions' `ip`, logs), so
they can never disagree. A forwarding header is believed only when the peer is listed in
TRUSTED_PROXIES; then the header's addresses are read from the right (the hop nearest to us)
and the first one that is not itself a trusted proxy is the client. Anything a client put
in the header to the left of that is ignored, so a forged `X-Forwarded-For` buys nothing.

`X-Forwarded-For` is read when present (nginx's `$proxy_add_x_forwarded_for` appends to it),
else RFC 7239 `Forwarded`. A trusted proxy must set (or append to) the header read here.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

UNKNOWN = "unknown"
_FORWARDED_FOR = re.compile(r'(?:^|;)\s*for\s*=\s*("[^"]*"|[^;,\s]*)', re.IGNORECASE)


@lru_cache(maxsize=8)
def parse_networks(spec: str) -> tuple[Network, ...]:
    """`TRUSTED_PROXIES`: CIDRs (or single addresses) separated by commas or spaces.
    Raises ValueError naming the bad entry."""
    networks: list[Network] = []
    for item in re.split(r"[,\s]+", spec.strip()):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"TRUSTED_PROXIES: {item!r} is not an address or CIDR") from None
    return tuple(networks)


def _address(text: str) -> Address | None:
    """An address from a header or peer value: strips quotes, brackets and a port."""
    text = text.strip().strip('"').strip()
    if text.startswith("["):  # [v6] or [v6]:port
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, networks: Iterable[Network]) -> bool:
    return any(address.version == n.version and address in n for n in networks)


def _forwarded_chain(headers: Mapping[str, str] | object) -> list[str]:
    getlist = getattr(headers, "getlist", None)

    def values(name: str) -> list[str]:
        if getlist is not None:
            return list(getlist(name))
        value = headers.get(name) if isinstance(headers, Mapping) else None
        return [value] if value else []

    xff = values("X-Forwarded-For")
    if xff:
        return [part for value in xff for part in value.split(",")]
    chain: list[str] = []
    for value in values("Forwarded"):
        for element in value.split(","):
            match = _FORWARDED_FOR.search(element)
            chain.append(match.group(1) if match else "")
    return chain


def client_address(peer: str | None, headers: Mapping[str, str] | object, trusted: str) -> str:
    """The client's address as text (e.g. "203.0.113.7", "2001:db8::1"), "unknown" if none."""
    address = _address(peer or "")
    if address is None:
        return UNKNOWN
    networks = parse_networks(trusted) if trusted else ()
    if not networks or not _trusted(address, networks):
        return str(address)
    for hop in reversed(_forwarded_chain(headers)):
        forwarded = _address(hop)
        if forwarded is None:  # "unknown", an obfuscated name, garbage: stop at the last proxy
            break
        address = forwarded
        if not _trusted(address, networks):
            break
    return str(address)
