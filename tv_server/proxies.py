"""The client's address behind the reverse proxy: the one helper the login limits, the boxes'
self-registration limits and the audit log all use.

X-Forwarded-For is read only when the TCP peer is one of the configured `trusted_proxies`;
nginx's `$proxy_add_x_forwarded_for` appends the address it saw to whatever the client sent, so
the client is the rightmost address that is not itself a trusted proxy. Anything left of it was
written by the client and is never believed. Without trusted proxies the TCP peer is the client.
"""

from __future__ import annotations

import ipaddress

from aiohttp import web

from tv_server import keys

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_HOPS = 20  # addresses of X-Forwarded-For looked at, from the right


def _parse(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, proxies) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def client_address(request: web.Request) -> str:
    """The address of the client that sent this request (see the module's docstring)."""
    peer_text = request.remote or ""
    proxies = request.config_dict[keys.SETTINGS].trusted_proxies
    if not proxies:
        return peer_text
    peer = _parse(peer_text)
    if peer is None or not _trusted(peer, proxies):
        return peer_text
    hops = [
        part for value in request.headers.getall("X-Forwarded-For", ()) for part in value.split(",")
    ]
    found = peer
    for part in reversed(hops[-MAX_HOPS:]):
        address = _parse(part)
        if address is None:  # not an address: stop at the last hop we could trust
            break
        found = address
        if not _trusted(address, proxies):
            break
    return str(found)
