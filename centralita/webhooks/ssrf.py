"""Which webhook URLs may be called: never the platform's own network (SSRF).

A URL is checked on what its host *resolves to*, at subscription and again before every attempt
and every redirect hop, and the request then goes to the address that was checked (no second
lookup a rebinding DNS server could answer differently).
"""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services answer on these even where they are not link-local.
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)


class UnsafeUrl(ValueError):
    """The URL is malformed, or leads to an address a webhook may not reach."""


@dataclass(frozen=True)
class Target:
    """A checked URL and the address to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress


def address_allowed(address: IPAddress, *, allow_loopback: bool) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return False
    if address.is_loopback:
        return allow_loopback
    return address.is_global and not address.is_multicast


def parse(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of an absolute http(s) URL without credentials."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl("the URL must start with http:// or https://")
    if not parts.hostname:
        raise UnsafeUrl("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("the URL may not carry a user name or password")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def resolve(url: str, *, allow_loopback: bool) -> Target:
    """The address to call for ``url``; :class:`UnsafeUrl` if any address it names is internal."""
    scheme, host, port = parse(url)
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except (OSError, UnicodeError):
            raise UnsafeUrl(f"the host {host} cannot be resolved") from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise UnsafeUrl(f"the host {host} cannot be resolved")
    # Every address must be safe: a name with one public and one private address is refused.
    for address in addresses:
        if not address_allowed(address, allow_loopback=allow_loopback):
            raise UnsafeUrl(f"the host {host} leads to an address webhooks may not reach")
    return Target(url, scheme, host, port, addresses[0])
