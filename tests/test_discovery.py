"""Zeroconf advertisement, with real mDNS kept on loopback.

Every Zeroconf instance here, the advertiser's and the browser's, is bound to
``interfaces=["127.0.0.1"]``: nothing may be sent to any non-loopback address. Where multicast
on loopback is unavailable the network tests skip.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import time
from collections.abc import AsyncIterator

import ifaddr
import pytest
from zeroconf import InterfaceChoice, ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from wyoming_qwen_tts.wyoming import discovery
from wyoming_qwen_tts.wyoming.discovery import (
    MAX_INSTANCE_NAME_BYTES,
    SERVICE_TYPE,
    ZeroconfAdvertiser,
    advertised_addresses,
    choose_mdns_interfaces,
    sanitize_instance_name,
)

LOOPBACK = ["127.0.0.1"]
WAIT_S = 5.0  # generous bound for anything that takes well under a second on loopback


def _random_name() -> str:
    return f"test-{secrets.token_hex(4)}"


def _random_port() -> int:
    return 20000 + secrets.randbelow(40000)  # nothing listens; only advertised


def _full(name: str) -> str:
    return f"{name}.{SERVICE_TYPE}"


# ------------------------------------------------------------------ pure functions


def test_advertised_addresses_specific_ip_is_kept():
    assert advertised_addresses("127.0.0.1") == ["127.0.0.1"]
    assert advertised_addresses("::1") == ["::1"]
    assert advertised_addresses("[::1]") == ["::1"]
    assert advertised_addresses("192.168.7.9") == ["192.168.7.9"]


@pytest.mark.parametrize("bind_host, families", [("0.0.0.0", {4}), ("::", {6}), ("", {4, 6})])
def test_advertised_addresses_wildcard_has_no_loopback(bind_host, families):
    # The machine's own addresses; may be empty in a sandbox. Nothing is sent anywhere.
    addresses = advertised_addresses(bind_host)
    for text in addresses:
        ip = ipaddress.ip_address(text)
        assert not ip.is_loopback
        assert not ip.is_unspecified
        assert ip.version in families
        assert not (ip.version == 6 and ip.is_link_local)
    assert len(addresses) == len(set(addresses))


def _adapter(name: str, index: int, *ips: str) -> ifaddr.Adapter:
    out = []
    for text in ips:
        if ":" in text:
            scope = index if text.startswith("fe80") else 0
            out.append(ifaddr.IP((text, 0, scope), 64, name))
        else:
            out.append(ifaddr.IP(text, 24, name))
    return ifaddr.Adapter(name, name, out, index=index)


FAKE_ADAPTERS = [
    _adapter("lo", 1, "127.0.0.1", "::1"),
    _adapter("docker0", 2, "172.17.0.1"),
    _adapter("eth0", 3, "10.1.2.3", "fe80::1", "2001:db8::3"),
    _adapter("wlan0", 4, "192.168.1.20", "fd00::20"),
]


def test_local_addresses_filter_and_order(monkeypatch):
    monkeypatch.setattr(discovery, "_default_route_interfaces", lambda: {"wlan0"})
    got = discovery._local_addresses({4, 6}, FAKE_ADAPTERS)
    # default-route interface first, virtual bridge last, IPv4 before IPv6,
    # no loopback, no link-local IPv6
    assert got == ["192.168.1.20", "10.1.2.3", "172.17.0.1", "fd00::20", "2001:db8::3"]
    assert discovery._local_addresses({4}, FAKE_ADAPTERS) == [
        "192.168.1.20",
        "10.1.2.3",
        "172.17.0.1",
    ]
    assert discovery._local_addresses({6}, FAKE_ADAPTERS) == ["fd00::20", "2001:db8::3"]


def test_addresses_of_explicit_interfaces():
    f = discovery._addresses_of_interfaces
    assert f(["127.0.0.1"], {4}, FAKE_ADAPTERS) == ["127.0.0.1"]
    assert f(["10.1.2.3"], {4, 6}, FAKE_ADAPTERS) == ["10.1.2.3", "2001:db8::3"]
    assert f(["10.1.2.3"], {6}, FAKE_ADAPTERS) == ["2001:db8::3"]
    assert f([4], {4, 6}, FAKE_ADAPTERS) == ["192.168.1.20", "fd00::20"]


def test_sanitize_instance_name():
    assert sanitize_instance_name("qwen3-tts") == "qwen3-tts"
    assert sanitize_instance_name("Küche TTS!") == "Kuche-TTS"
    assert sanitize_instance_name("a.b_c  d") == "a-b-c-d"
    assert sanitize_instance_name("---") == discovery.DEFAULT_NAME
    assert sanitize_instance_name("") == discovery.DEFAULT_NAME
    long = sanitize_instance_name("x" * 200)
    # leaves room for zeroconf's "-2" style rename within the 63-byte label limit
    assert len(long.encode()) <= MAX_INSTANCE_NAME_BYTES - 3
    assert len(f"{long}-99".encode()) <= MAX_INSTANCE_NAME_BYTES


def test_server_name_is_a_valid_host_label():
    server = discovery._server_name("qwen3-tts")
    assert server.endswith(".local.")
    label = server[: -len(".local.")]
    assert label.startswith("qwen3-tts")
    assert 0 < len(label.encode()) <= MAX_INSTANCE_NAME_BYTES
    assert all(c.isalnum() or c == "-" for c in label)


def test_choose_mdns_interfaces():
    assert choose_mdns_interfaces("127.0.0.1") == ["127.0.0.1"]
    assert choose_mdns_interfaces("::1") == ["127.0.0.1"]
    assert choose_mdns_interfaces("0.0.0.0") is InterfaceChoice.All
    assert choose_mdns_interfaces("") is InterfaceChoice.All
    # a NAT / Docker address that is not on this machine: announce everywhere
    assert choose_mdns_interfaces("0.0.0.0", "203.0.113.7") is InterfaceChoice.All
    # a local advertise host wins over the bind host
    assert choose_mdns_interfaces("0.0.0.0", "127.0.0.1") == ["127.0.0.1"]
    # explicit interfaces are used as given
    assert choose_mdns_interfaces("0.0.0.0", "203.0.113.7", ["127.0.0.1"]) == ["127.0.0.1"]


def test_constructor_validates():
    with pytest.raises(ValueError):
        ZeroconfAdvertiser("x", 0, bind_host="127.0.0.1", interfaces=LOOPBACK)
    adv = ZeroconfAdvertiser("my tts", 10200, bind_host="127.0.0.1", interfaces=LOOPBACK)
    assert adv.instance_name == "my-tts"
    assert not adv.started


# ------------------------------------------------------------------ real mDNS on loopback


class Browser:
    """An independent Zeroconf on loopback that records Added / Removed events."""

    def __init__(self, aiozc: AsyncZeroconf) -> None:
        self.aiozc = aiozc
        self.added: dict[str, asyncio.Event] = {}
        self.removed: dict[str, asyncio.Event] = {}
        self.browser: AsyncServiceBrowser | None = None

    def _event(self, table: dict[str, asyncio.Event], name: str) -> asyncio.Event:
        return table.setdefault(name.lower(), asyncio.Event())

    def _on_change(self, zeroconf, service_type, name, state_change) -> None:
        if state_change is ServiceStateChange.Added:
            self._event(self.added, name).set()
        elif state_change is ServiceStateChange.Removed:
            self._event(self.removed, name).set()

    async def wait_added(self, name: str) -> float:
        started = time.monotonic()
        await asyncio.wait_for(self._event(self.added, name).wait(), WAIT_S)
        return time.monotonic() - started

    async def wait_removed(self, name: str) -> float:
        started = time.monotonic()
        await asyncio.wait_for(self._event(self.removed, name).wait(), WAIT_S)
        return time.monotonic() - started

    async def resolve(self, name: str) -> AsyncServiceInfo:
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        assert await info.async_request(self.aiozc.zeroconf, 3000), f"{name} did not resolve"
        return info


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    try:
        aiozc = AsyncZeroconf(interfaces=LOOPBACK)
    except OSError as err:
        pytest.skip(f"multicast on loopback unavailable: {err}")
    result = Browser(aiozc)
    try:
        result.browser = AsyncServiceBrowser(
            aiozc.zeroconf, SERVICE_TYPE, handlers=[result._on_change]
        )
        yield result
    finally:
        if result.browser is not None:
            await result.browser.async_cancel()
        await aiozc.async_close()


async def _start(adv: ZeroconfAdvertiser) -> float:
    started = time.monotonic()
    try:
        await adv.start()
    except OSError as err:
        await adv.stop()
        pytest.skip(f"mDNS registration on loopback failed: {err}")
    return time.monotonic() - started


def _loopback_advertiser(name: str, port: int, **kwargs) -> ZeroconfAdvertiser:
    return ZeroconfAdvertiser(name, port, bind_host="127.0.0.1", interfaces=LOOPBACK, **kwargs)


@pytest.mark.timeout(30)
async def test_advertise_resolve_and_goodbye(browser: Browser):
    name, port = _random_name(), _random_port()
    adv = _loopback_advertiser(name, port)
    try:
        t_start = await _start(adv)
        assert adv.registered_name == _full(name)
        assert adv.addresses == ["127.0.0.1"]
        t_seen = await browser.wait_added(_full(name))

        info = await browser.resolve(_full(name))
        assert info.port == port
        assert info.parsed_addresses() == ["127.0.0.1"]
        assert info.server is not None and info.server.endswith(".local.")

        t0 = time.monotonic()
        await adv.stop()
        t_stop = time.monotonic() - t0
        t_gone = await browser.wait_removed(_full(name))
    finally:
        await adv.stop()
    print(
        f"\nloopback mDNS: start {t_start:.2f} s, browser saw it {t_seen:.2f} s later, "
        f"stop {t_stop:.2f} s, removal seen {t_gone:.2f} s after stop returned"
    )
    assert t_stop < 5.0  # designed for < 0.5 s; generous bound for slow machines
    assert not adv.started
    assert adv.registered_name is None


@pytest.mark.timeout(30)
async def test_ipv6_advertise_host_is_packed_as_aaaa(browser: Browser):
    # The record says 2001:db8::1 (documentation prefix); the packets stay on loopback.
    name, port = _random_name(), _random_port()
    adv = _loopback_advertiser(name, port, advertise_host="2001:db8::1")
    try:
        await _start(adv)
        await browser.wait_added(_full(name))
        info = await browser.resolve(_full(name))
        assert info.port == port
        assert info.parsed_addresses() == ["2001:db8::1"]
    finally:
        await adv.stop()


@pytest.mark.timeout(30)
async def test_name_conflict_is_renamed(browser: Browser):
    name = _random_name()
    first = _loopback_advertiser(name, _random_port())
    second = _loopback_advertiser(name, _random_port())
    try:
        await _start(first)
        await _start(second)
        assert first.registered_name == _full(name)
        assert second.registered_name == _full(f"{name}-2")
        await browser.wait_added(_full(f"{name}-2"))
        info = await browser.resolve(_full(f"{name}-2"))
        assert info.port == second.port
    finally:
        await second.stop()
        await first.stop()


@pytest.mark.timeout(30)
async def test_stop_is_idempotent_and_safe_before_start():
    adv = _loopback_advertiser(_random_name(), _random_port())
    await adv.stop()  # never started
    await _start(adv)
    t0 = time.monotonic()
    await adv.stop()
    await adv.stop()
    assert time.monotonic() - t0 < 5.0
    assert not adv.started


@pytest.mark.timeout(30)
async def test_stop_during_start_cancels_probe(browser: Browser):
    name = _random_name()
    adv = _loopback_advertiser(name, _random_port())
    task = asyncio.ensure_future(adv.start())
    await asyncio.sleep(0.3)  # inside the ~1.2 s probe
    if task.done() and task.exception() is not None:
        if isinstance(task.exception(), OSError):
            pytest.skip(f"mDNS registration on loopback failed: {task.exception()}")
    t0 = time.monotonic()
    await adv.stop()
    t_stop = time.monotonic() - t0
    await asyncio.wait_for(task, WAIT_S)  # start() returns quietly
    assert t_stop < 5.0
    assert adv.registered_name is None
    assert not adv.started
    # never announced, so the browser should not see it
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(browser._event(browser.added, _full(name)).wait(), 1.0)
