"""Reading Wyoming events from an untrusted peer, with every length checked before reading.

The ``wyoming`` library's reader trusts the ``data_length`` and ``payload_length`` a peer
declares, so one header line can make a server wait for, and buffer, gigabytes. Here a header
must be a JSON object with a string ``type``, and declared lengths must be non-negative integers
under the configured caps; anything else is a ``ProtocolError`` that ends the connection.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wyoming.event import Event


class ProtocolError(Exception):
    """The peer sent something that is not a Wyoming event within our limits."""


MAX_PAYLOAD_BYTES = 64 * 1024
"""A TTS server is sent no audio: payloads only carry what clients attach by mistake."""


@dataclass(frozen=True)
class EventLimits:
    max_data_bytes: int
    """``--max-event-bytes``."""
    max_payload_bytes: int = MAX_PAYLOAD_BYTES


SKIP_READ_BYTES = 64 * 1024
"""What a skipped event's data and payload are read in, and dropped, at a time."""


@dataclass(frozen=True)
class Skipped:
    """An event read past without keeping its data or payload, whatever their declared size."""

    type: str
    skipped_bytes: int


async def read_event(
    reader: asyncio.StreamReader,
    limits: EventLimits,
    skip: Callable[[str], bool] | None = None,
) -> Event | Skipped | None:
    """The next event, or None at the end of the stream.

    An event whose type ``skip`` accepts is read past in bounded memory, however long the data
    and payload it declares (Home Assistant's compatibility ``synthesize`` inside a stream
    repeats the whole answer), and comes back as ``Skipped``.
    """
    try:
        line = await reader.readline()
    except ValueError as err:  # longer than the reader's line limit
        raise ProtocolError(f"event header too long: {err}") from err
    if not line:
        return None
    if not line.endswith(b"\n"):
        return None  # the peer closed mid-header
    try:
        header = json.loads(line)
    except (ValueError, RecursionError) as err:
        raise ProtocolError(f"event header is not JSON: {err}") from err
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise ProtocolError("event header must be a JSON object with a string 'type'")
    data = header.get("data") or {}
    if not isinstance(data, dict):
        raise ProtocolError("event 'data' must be a JSON object")
    if skip is not None and skip(header["type"]):
        return await _skip(reader, header)
    data_length = _declared_length(header, "data_length", limits.max_data_bytes)
    payload_length = _declared_length(header, "payload_length", limits.max_payload_bytes)
    try:
        if data_length:
            extra = json.loads(await reader.readexactly(data_length))
            if not isinstance(extra, dict):
                raise ProtocolError("event data must be a JSON object")
            data = {**data, **extra}
        payload = await reader.readexactly(payload_length) if payload_length else None
    except asyncio.IncompleteReadError:
        return None  # the peer closed mid-event
    except (ValueError, RecursionError) as err:
        raise ProtocolError(f"event data is not JSON: {err}") from err
    return Event(type=header["type"], data=data, payload=payload)


async def _skip(reader: asyncio.StreamReader, header: dict[str, Any]) -> Skipped | None:
    unlimited = 1 << 62
    left = _declared_length(header, "data_length", unlimited)
    left += _declared_length(header, "payload_length", unlimited)
    total = left
    while left:
        chunk = await reader.read(min(left, SKIP_READ_BYTES))
        if not chunk:
            return None  # the peer closed mid-event
        left -= len(chunk)
    return Skipped(header["type"], total)


def _declared_length(header: dict[str, Any], key: str, limit: int) -> int:
    value = header.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProtocolError(f"'{key}' must be a non-negative integer, got {value!r}")
    if value > limit:
        raise ProtocolError(f"'{key}' of {value} bytes is over the limit of {limit}")
    return value
