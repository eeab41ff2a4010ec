"""Zeroconf (mDNS / DNS-SD) advertisement of the Wyoming server for Home Assistant.

Home Assistant's wyoming integration browses ``_wyoming._tcp.local.``; every instance it
finds becomes a discovered integration. This module registers one such instance and takes
it down again (with an RFC 6762 goodbye) on shutdown. It depends only on the standard
library, ``zeroconf`` and ``ifaddr`` (a dependency of zeroconf), and never opens a socket to
an outside address to guess "its" IP: addresses come from the local interface list.

What gets advertised (:func:`advertised_addresses`, :meth:`ZeroconfAdvertiser.start`):

* ``advertise_host`` set (Docker bridge networking, NAT): exactly that address (an IP
  literal, or a name resolved with the system resolver).
* ``bind_host`` a specific address: that address (clients can reach nothing else).
* ``bind_host`` a wildcard: the machine's own non-loopback, non-link-local addresses of the
  families the server really listens on. asyncio sets ``IPV6_V6ONLY`` on IPv6 listeners, so
  ``0.0.0.0`` means IPv4 only, ``::`` IPv6 only, and ``""`` both. The interface that holds
  the default route comes first, virtual bridges (docker0, virbr0, ...) last: Home Assistant
  connects to the first address it is given. When ``interfaces`` is given explicitly, only
  the addresses of those interfaces are advertised (a listed loopback address included).

Which interfaces mDNS runs on (:func:`choose_mdns_interfaces`), when ``interfaces`` is None:

* ``advertise_host`` set and it is an address of this machine: that interface only.
* ``advertise_host`` set but not local (NAT, Docker bridge): zeroconf's default, all
  interfaces; the announcement has to leave the box somewhere.
* ``bind_host`` a specific local address: that interface only, since the server is reachable
  there and nowhere else. ``127.0.0.1`` therefore keeps mDNS on loopback. (zeroconf cannot
  use ``::1`` for multicast, so IPv6 loopback maps to ``127.0.0.1``.)
* otherwise (wildcard bind): all interfaces (``InterfaceChoice.All``, IPv4 multicast; the A
  and AAAA records are carried either way).

Failures to start (no multicast, no address) are for the caller to treat as non-fatal: the
server works without discovery, users can add it by host and port.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import socket
import time
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

import ifaddr
from zeroconf import InterfaceChoice, NonUniqueNameException
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

_LOGGER = logging.getLogger(__name__)

SERVICE_TYPE = "_wyoming._tcp.local."
DEFAULT_NAME = "qwen3-tts"

#: DNS label limit for the instance name (RFC 6763 section 4.1.1).
MAX_INSTANCE_NAME_BYTES = 63
#: Room kept free for the "-N" that zeroconf appends when the name is already taken; a name
#: that filled all 63 bytes would make the renamed one invalid.
_RENAME_HEADROOM = 4
#: stop() gives the goodbye packets this long; zeroconf sends 3 of them 125 ms apart.
_STOP_TIMEOUT_S = 1.5

_WILDCARD_V4 = "0.0.0.0"
_WILDCARD_V6 = "::"
_VIRTUAL_IFACE_PREFIXES = (
    "docker",
    "br-",
    "veth",
    "virbr",
    "vmnet",
    "vboxnet",
    "cni",
    "flannel",
    "cali",
    "weave",
    "podman",
    "lxc",
    "lxd",
    "tun",
    "tap",
    "zt",
    "tailscale",
    "wg",
)

IPAddr = ipaddress.IPv4Address | ipaddress.IPv6Address


# --------------------------------------------------------------------------- names


def _to_label(text: str, max_bytes: int) -> str:
    """Reduce text to a DNS host label: ASCII letters, digits and single inner hyphens."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    label = re.sub(r"[^A-Za-z0-9]+", "-", ascii_text).strip("-")
    return label[:max_bytes].rstrip("-")


def sanitize_instance_name(name: str) -> str:
    """Make ``name`` a safe DNS-SD instance name.

    DNS-SD would allow any UTF-8 without control characters, but the same text also becomes
    the host label of the SRV target, and dots confuse tools that split the full service
    name. So: accents are folded to ASCII, every run of other characters becomes one ``-``,
    and the result is cut to ``63 - 4`` bytes so that zeroconf's rename (``name-2``, ...)
    still fits the 63-byte limit. An empty result falls back to :data:`DEFAULT_NAME`.
    """
    label = _to_label(name or "", MAX_INSTANCE_NAME_BYTES - _RENAME_HEADROOM)
    return label or DEFAULT_NAME


def _server_name(instance: str) -> str:
    """SRV target host name: ``<instance>-<hostname>.local.``.

    Not the bare ``<hostname>.local.``, which the OS's own responder (avahi) owns: announcing
    it with a different address set would make avahi see a conflict. Not the bare
    ``<instance>.local.`` either: two machines running the default name would then announce
    A records for the same host name, and browsers would merge their addresses.
    """
    host = _to_label(socket.gethostname().split(".")[0], MAX_INSTANCE_NAME_BYTES)
    label = f"{instance}-{host}" if host else instance
    label = label[:MAX_INSTANCE_NAME_BYTES].rstrip("-")
    return f"{label.lower()}.local."


# ------------------------------------------------------------------------ addresses


def _is_wildcard(host: str | None) -> bool:
    return (host or "").strip().strip("[]") in ("", _WILDCARD_V4, _WILDCARD_V6, "*")


def _parse_ip(text: str) -> IPAddr | None:
    text = text.strip().strip("[]").split("%", 1)[0]  # scope ids do not travel in AAAA records
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _adapter_ip(ip: ifaddr.IP) -> IPAddr | None:
    raw = ip.ip[0] if isinstance(ip.ip, tuple) else ip.ip
    return _parse_ip(str(raw))


def _advertisable(ip: IPAddr) -> bool:
    if ip.is_loopback or ip.is_unspecified or ip.is_multicast:
        return False
    # An IPv6 link-local address is useless without its scope id, which DNS cannot carry;
    # Home Assistant skips link-local addresses anyway.
    return not (ip.version == 6 and ip.is_link_local)


def _default_route_interfaces() -> set[str]:
    """Interfaces that carry a default route, read from /proc (Linux; empty elsewhere)."""
    names: set[str] = set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/route").read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 7 and fields[1] == "00000000" and fields[7] == "00000000":
                names.add(fields[0])
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/ipv6_route").read_text().splitlines():
            fields = line.split()  # dest, prefix, src, prefix, next hop, metric, ..., iface
            if len(fields) >= 10 and fields[:2] == ["0" * 32, "00"] and fields[9] != "lo":
                names.add(fields[9])
    return names


def _adapter_rank(adapter: ifaddr.Adapter, default_ifaces: set[str]) -> int:
    name = adapter.name if isinstance(adapter.name, str) else str(adapter.name)
    if name in default_ifaces:
        return 0
    if name.lower().startswith(_VIRTUAL_IFACE_PREFIXES):
        return 2
    return 1


def _ordered(ips: Iterable[IPAddr]) -> list[str]:
    """Deduplicate, IPv4 first, otherwise keep the order given."""
    seen: dict[IPAddr, None] = dict.fromkeys(ips)
    return [str(ip) for ip in sorted(seen, key=lambda ip: ip.version)]


def _local_addresses(
    families: set[int], adapters: Sequence[ifaddr.Adapter] | None = None
) -> list[str]:
    """The machine's advertisable addresses of the given IP versions, best first."""
    adapters = list(ifaddr.get_adapters()) if adapters is None else list(adapters)
    default_ifaces = _default_route_interfaces()
    ranked = sorted(adapters, key=lambda a: _adapter_rank(a, default_ifaces))  # stable
    result: list[IPAddr] = []
    for adapter in ranked:
        for adapter_ip in adapter.ips:
            ip = _adapter_ip(adapter_ip)
            if ip is not None and ip.version in families and _advertisable(ip):
                result.append(ip)
    return _ordered(result)


def _bind_families(bind_host: str | None) -> set[int]:
    host = (bind_host or "").strip().strip("[]")
    if host == _WILDCARD_V4:
        return {4}
    if host == _WILDCARD_V6:
        return {6}
    return {4, 6}


def _resolve(host: str) -> list[str]:
    """An IP literal as itself; a name through the system resolver (e.g. ``localhost``)."""
    ip = _parse_ip(host)
    if ip is not None:
        return [str(ip)]
    try:
        infos = socket.getaddrinfo(host.strip(), None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as err:
        _LOGGER.warning("Cannot resolve %r to an address to advertise: %s", host, err)
        return []
    resolved = (_parse_ip(str(info[4][0])) for info in infos)
    return _ordered(ip for ip in resolved if ip is not None)


def advertised_addresses(bind_host: str) -> list[str]:
    """The addresses to advertise for a server bound to ``bind_host``.

    A specific address (or a name, resolved) is returned as is, loopback included: a server
    bound to 127.0.0.1 is reachable there and nowhere else. For a wildcard (``0.0.0.0``:
    IPv4, ``::``: IPv6, ``""``: both) the machine's non-loopback, non-link-local interface
    addresses are returned, IPv4 first, the default-route interface first. The list may be
    empty (no usable interface).
    """
    if _is_wildcard(bind_host):
        return _local_addresses(_bind_families(bind_host))
    return _resolve(bind_host)


def _addresses_of_interfaces(
    interfaces: Sequence[str | int], families: set[int], adapters: Sequence[ifaddr.Adapter]
) -> list[str]:
    """For a wildcard bind limited to some interfaces: the addresses on those interfaces.

    The listed addresses themselves come first (loopback too, when listed explicitly), then
    the other advertisable addresses of the same adapters.
    """
    listed: list[IPAddr] = []
    chosen: list[ifaddr.Adapter] = []
    for entry in interfaces:
        if isinstance(entry, int):
            chosen += [a for a in adapters if a.index == entry]
            continue
        ip = _parse_ip(str(entry))
        if ip is None:
            continue
        if ip.version in families:
            listed.append(ip)
        chosen += [a for a in adapters if any(_adapter_ip(i) == ip for i in a.ips)]
    extra = [
        ip
        for adapter in chosen
        for ip in (_adapter_ip(i) for i in adapter.ips)
        if ip is not None and ip.version in families and _advertisable(ip)
    ]
    return _ordered([*listed, *extra])


def _is_local_address(ip: IPAddr, adapters: Sequence[ifaddr.Adapter]) -> bool:
    return any(_adapter_ip(i) == ip for a in adapters for i in a.ips)


def choose_mdns_interfaces(
    bind_host: str,
    advertise_host: str | None = None,
    interfaces: Sequence[str | int] | None = None,
) -> list[str | int] | InterfaceChoice:
    """The ``interfaces`` argument for zeroconf; see the module docstring for the rules."""
    if interfaces is not None:
        return list(interfaces)
    adapters = list(ifaddr.get_adapters())
    for host in (advertise_host, bind_host):
        if host is None or _is_wildcard(host):
            continue
        ip = _parse_ip(host)
        if ip is None or not _is_local_address(ip, adapters):
            return InterfaceChoice.All
        if ip.version == 6 and ip.is_loopback:
            return ["127.0.0.1"]
        return [str(ip)]
    return InterfaceChoice.All


def _pack(address: str) -> bytes:
    ip = _parse_ip(address)
    if ip is None:
        raise ValueError(f"not an IP address: {address!r}")
    return ip.packed  # 4 bytes for IPv4, 16 for IPv6: what A / AAAA records carry


# ----------------------------------------------------------------------- advertiser


class ZeroconfAdvertiser:
    """Registers ``<name>._wyoming._tcp.local.`` while the server runs.

    ``start()`` probes the name (about 1.2 s), renaming to ``name-2``, ``name-3``, ... when
    another responder already owns it, then registers and announces in the background.
    ``stop()`` sends the goodbye and closes the sockets; it is idempotent, may be called
    before or during ``start()``, and returns within about 0.3 s (bounded at 1.5 s).
    """

    def __init__(
        self,
        name: str,
        port: int,
        *,
        bind_host: str,
        advertise_host: str | None = None,
        interfaces: list[str] | None = None,
    ) -> None:
        if not 0 < int(port) < 65536:
            raise ValueError(f"port out of range: {port}")
        self.requested_name = name
        self.instance_name = sanitize_instance_name(name)
        if self.instance_name != name:
            _LOGGER.info("Zeroconf instance name %r sanitized to %r", name, self.instance_name)
        self.port = int(port)
        self.bind_host = bind_host
        self.advertise_host = None if _is_wildcard(advertise_host) else advertise_host
        self.interfaces = None if interfaces is None else list(interfaces)

        self._aiozc: AsyncZeroconf | None = None
        self._info: AsyncServiceInfo | None = None
        self._register_task: asyncio.Task[None] | None = None
        self._announce: asyncio.Future | None = None
        self._registered = False
        self._stopping = False
        #: The full service name once registered (after any rename), else None.
        self.registered_name: str | None = None
        #: The addresses advertised, once started.
        self.addresses: list[str] = []

    # ---------------------------------------------------------------- helpers

    def _addresses(self) -> list[str]:
        if self.advertise_host is not None:
            return _resolve(self.advertise_host)
        if _is_wildcard(self.bind_host) and self.interfaces is not None:
            return _addresses_of_interfaces(
                self.interfaces, _bind_families(self.bind_host), list(ifaddr.get_adapters())
            )
        return advertised_addresses(self.bind_host)

    @property
    def started(self) -> bool:
        return self._aiozc is not None

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Probe, register and start announcing. Raises OSError when mDNS sockets fail."""
        if self._aiozc is not None:
            return
        self._stopping = False
        addresses = await asyncio.to_thread(self._addresses)
        if self._stopping:
            return  # stop() was called meanwhile
        if not addresses:
            _LOGGER.warning(
                "Zeroconf: no address to advertise for bind host %r (advertise host %r); "
                "not advertising. Set an advertise host to enable discovery.",
                self.bind_host,
                self.advertise_host,
            )
            return
        mdns_interfaces = await asyncio.to_thread(
            choose_mdns_interfaces, self.bind_host, self.advertise_host, self.interfaces
        )
        if self._stopping:
            return
        info = AsyncServiceInfo(
            SERVICE_TYPE,
            f"{self.instance_name}.{SERVICE_TYPE}",
            port=self.port,
            addresses=[_pack(a) for a in addresses],
            server=_server_name(self.instance_name),
            properties={},
        )
        aiozc = AsyncZeroconf(interfaces=mdns_interfaces)  # OSError: no multicast here
        self._aiozc, self._info, self.addresses = aiozc, info, addresses
        self._register_task = asyncio.ensure_future(self._register(aiozc, info))
        try:
            await self._register_task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self._stopping and not (current is not None and current.cancelling()):
                return  # stop() interrupted the probe: not an error
            await self.stop()
            raise
        except BaseException:
            await self.stop()
            raise
        finally:
            self._register_task = None

        instance = info.name[: -len(SERVICE_TYPE) - 1]
        if instance != self.instance_name:
            _LOGGER.warning(
                "Zeroconf name %r is already taken on the network; advertising as %r",
                self.instance_name,
                instance,
            )
        _LOGGER.info(
            "Zeroconf: advertising %r (%s) at %s port %d (host %s, mDNS interfaces %s)",
            instance,
            SERVICE_TYPE,
            ", ".join(addresses),
            self.port,
            info.server,
            "all" if mdns_interfaces is InterfaceChoice.All else mdns_interfaces,
        )

    async def _register(self, aiozc: AsyncZeroconf, info: AsyncServiceInfo) -> None:
        started = time.monotonic()
        try:
            self._announce = await aiozc.async_register_service(info, allow_name_change=True)
        except NonUniqueNameException:  # only without allow_name_change; kept for safety
            _LOGGER.warning("Zeroconf name %r is taken and could not be changed", info.name)
            raise
        self._registered = True
        self.registered_name = info.name
        _LOGGER.debug("Zeroconf registration took %.2f s", time.monotonic() - started)

    async def stop(self) -> None:
        """Send the goodbye (if registered) and close. Idempotent; returns within ~1.5 s."""
        self._stopping = True
        task, self._register_task = self._register_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        aiozc, self._aiozc = self._aiozc, None
        info, self._info = self._info, None
        announce, self._announce = self._announce, None
        registered, self._registered = self._registered, False
        self.registered_name = None
        if aiozc is None:
            return
        started = time.monotonic()
        if announce is not None and not announce.done():
            announce.cancel()  # no late announcement after the goodbye
        try:
            async with asyncio.timeout(_STOP_TIMEOUT_S):
                if registered and info is not None:
                    goodbye = await aiozc.async_unregister_service(info)
                    await goodbye
        except TimeoutError:
            _LOGGER.warning("Zeroconf goodbye did not finish within %.1f s", _STOP_TIMEOUT_S)
        except Exception as err:  # noqa: BLE001 - shutdown must go on
            _LOGGER.warning("Zeroconf goodbye failed: %s", err)
        finally:
            try:
                await aiozc.async_close()
            except Exception as err:  # noqa: BLE001
                _LOGGER.debug("Zeroconf close failed: %s", err)
        _LOGGER.info(
            "Zeroconf: stopped advertising %r (%.2f s)",
            info.name if info is not None else self.instance_name,
            time.monotonic() - started,
        )
