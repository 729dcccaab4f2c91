"""Which address a request came from, as login throttling counts it.

The peer of the connection is the client, unless that peer is one of the operator's own
reverse proxies (BEATSYNC_TRUSTED_PROXIES, IPs or CIDRs; empty by default: trust none).
Then the proxy's `Forwarded` (RFC 7239) or, failing that, `X-Forwarded-For` header is
read from its right end, hop by hop, skipping the trusted proxies; the first address that
is not one of them is the client. Anything to its left was written by the client itself
and is never believed. uvicorn is run with proxy_headers off (server/cli.py), so this is
the only rule that rewrites a client's address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

from server.settings import IPNetwork

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(text: str) -> IPAddress | None:
    """'203.0.113.5', '203.0.113.5:4711', '[2001:db8::1]:4711', '"[2001:db8::1]"' -> IP."""
    text = text.strip().strip('"').strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else text[1:]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _forwarded_for(value: str) -> list[str]:
    """The `for=` of each element of a Forwarded header, left to right."""
    hops: list[str] = []
    for element in value.split(","):
        found = ""
        for pair in element.split(";"):
            name, _, val = pair.strip().partition("=")
            if name.strip().lower() == "for":
                found = val
        hops.append(found)
    return hops


def _trusted(address: IPAddress, networks: Sequence[IPNetwork]) -> bool:
    return any(address in network for network in networks)


def client_address(
    peer: str | None, headers: Mapping[str, str], trusted: Sequence[IPNetwork]
) -> str:
    """The client's address; `headers` with lower-case names (Litestar's are)."""
    if peer is None:
        return "unknown"
    nearest = _address(peer)
    if nearest is None or not trusted or not _trusted(nearest, trusted):
        return peer
    if headers.get("forwarded"):
        hops = _forwarded_for(headers["forwarded"])
    else:
        hops = headers.get("x-forwarded-for", "").split(",")
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            # 'unknown', an obfuscated name, or garbage: nothing further left is known;
            # the last proxy that was trusted is as near the client as can be told.
            break
        nearest = address
        if not _trusted(address, trusted):
            break
    return str(nearest)
