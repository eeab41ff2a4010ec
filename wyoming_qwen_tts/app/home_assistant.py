"""Telling Home Assistant that the voices changed, where the server runs as its add-on.

Home Assistant reads a Wyoming server's voices only when the integration's config entry loads.
Under the Supervisor (``homeassistant_api: true`` gives the add-on ``SUPERVISOR_TOKEN``), the
server asks Home Assistant's own API, through the Supervisor's proxy, to reload the Wyoming
entries that this add-on's discovery created: ``GET /api/config/config_entries/entry`` lists
them (an entry from Supervisor discovery has ``source`` ``hassio`` and the add-on's name as its
title), ``POST /api/config/config_entries/entry/{entry_id}/reload`` reloads one.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import aiohttp

_LOGGER = logging.getLogger(__name__)

SUPERVISOR_URL = "http://supervisor"
RELOAD_HINT = (
    "Home Assistant lists a Wyoming server's voices when its integration loads: reload this "
    "server's entry under Settings > Devices & services > Wyoming Protocol to see the change"
)
_TIMEOUT = aiohttp.ClientTimeout(total=10)


@dataclass(frozen=True)
class ReloadOutcome:
    done: bool
    hint: str | None
    """What the user must do instead, when it could not be done."""


class HomeAssistantReloader:
    """Reloads this add-on's Wyoming config entries; outside the Supervisor it only says how."""

    def __init__(self, token: str | None = None, base_url: str | None = None) -> None:
        self._token = token if token is not None else os.environ.get("SUPERVISOR_TOKEN")
        # The environment variable points tests at a stand-in Supervisor.
        self._base = base_url or os.environ.get("WYOMING_QWEN_TTS_SUPERVISOR_URL", SUPERVISOR_URL)

    async def reload(self) -> ReloadOutcome:
        if not self._token:
            return ReloadOutcome(False, RELOAD_HINT)
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            async with aiohttp.ClientSession(headers=headers, timeout=_TIMEOUT) as session:
                name = await self._addon_name(session)
                entries = await self._get(session, "/core/api/config/config_entries/entry")
                ours = [
                    entry["entry_id"]
                    for entry in entries
                    if isinstance(entry, dict)
                    and entry.get("domain") == "wyoming"
                    and entry.get("source") == "hassio"
                    and entry.get("title") == name
                ]
                for entry_id in ours:
                    url = f"{self._base}/core/api/config/config_entries/entry/{entry_id}/reload"
                    async with session.post(url) as response:
                        response.raise_for_status()
        except (aiohttp.ClientError, TimeoutError, KeyError, ValueError) as err:
            _LOGGER.warning("Could not ask Home Assistant to reload the voices: %s", err)
            return ReloadOutcome(False, RELOAD_HINT)
        if not ours:
            _LOGGER.info("Home Assistant has no Wyoming entry for '%s' to reload", name)
            return ReloadOutcome(False, RELOAD_HINT)
        _LOGGER.info("Asked Home Assistant to reload %d Wyoming entry(ies)", len(ours))
        return ReloadOutcome(True, None)

    async def _addon_name(self, session: aiohttp.ClientSession) -> str:
        info = await self._get(session, "/addons/self/info")
        return str(info["data"]["name"])

    async def _get(self, session: aiohttp.ClientSession, path: str) -> object:
        async with session.get(f"{self._base}{path}") as response:
            response.raise_for_status()
            return await response.json()
